"""Stripe's itemized report CSVs are mapped onto the ledger tables, exactly and idempotently."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from paywindow.reconcile.csv_import import import_report_csv
from paywindow.reconcile.ledger import ledger_files

NOW = datetime(2026, 11, 10, tzinfo=UTC)
HEADER = (
    "balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,"
    "reporting_category,source_id,description,automatic_payout_id,automatic_payout_effective_at"
)
ROWS = [
    "txn_1,2026-11-02 10:00:00,2026-11-04 00:00:00,usd,25.00,1.03,23.97,charge,ch_1,,po_1,"
    "2026-11-05 00:00:00",
    "txn_2,2026-11-02 10:00:01,2026-11-04 00:00:00,usd,-25.00,0.00,-25.00,transfer,tr_1,,po_1,"
    "2026-11-05 00:00:00",
    "txn_3,2026-11-02 10:00:02,2026-11-04 00:00:00,usd,2.50,0.00,2.50,platform_earning,fee_1,,"
    "po_1,2026-11-05 00:00:00",
    "txn_4,2026-11-03 09:00:00,2026-11-05 00:00:00,jpy,3000,117,2883,charge,ch_2,,,",
]


def _write(tmp: Path, rows: list[str]) -> Path:
    path = tmp / "report.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _sql(data_dir: Path, table: str, query: str) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    con.read_parquet(ledger_files(data_dir, table)).create_view(table)
    return con.sql(query).fetchall()


def test_amounts_become_minor_units(tmp_path: Path) -> None:
    written = import_report_csv(_write(tmp_path, ROWS), tmp_path, now=NOW)
    assert written == {"balance_transactions": 4, "payouts": 0, "payout_items": 3}
    rows = _sql(
        tmp_path,
        "balance_transactions",
        "SELECT id, amount, fee, net, currency, type FROM balance_transactions ORDER BY id",
    )
    assert rows[0] == ("txn_1", 2500, 103, 2397, "usd", "charge")
    assert rows[2][5] == "application_fee"
    assert rows[3] == ("txn_4", 3000, 117, 2883, "jpy", "charge")
    items = _sql(tmp_path, "payout_items", "SELECT sum(1), min(payout) FROM payout_items")
    assert items == [(3, "po_1")]


def test_importing_twice_changes_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, ROWS)
    import_report_csv(path, tmp_path, now=NOW)
    import_report_csv(path, tmp_path, now=NOW)
    count = _sql(tmp_path, "balance_transactions", "SELECT count(*) FROM balance_transactions")
    assert count == [(4,)]


def test_a_fraction_of_a_minor_unit_is_refused(tmp_path: Path) -> None:
    bad = ["txn_9,2026-11-02 10:00:00,,usd,25.001,0,25.001,charge,ch_9,,,"]
    with pytest.raises(ValueError, match="minor units"):
        import_report_csv(_write(tmp_path, bad), tmp_path, now=NOW)


def test_another_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id,amount\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a Stripe itemized report"):
        import_report_csv(path, tmp_path, now=NOW)
