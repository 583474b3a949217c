"""charge_findings on a handful of hand-made rows: ranking of several charges, scope, Parquet.

The sandbox worlds hold one case of each kind; these rows pin the edges of the ranking (the
order's own charge first, then by creation) and of the scope (an order counts when paid in the
period or when any of its charges was created in it), with the local rows registered either as
Arrow or as Parquet files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from paywindow.reconcile.ledger import SCHEMAS
from paywindow.reconcile.matching import (
    Slas,
    connect,
    find,
    register_ledger,
    register_parquet,
)
from paywindow.reconcile.snapshot import ORDER_SCHEMA

SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "reconcile"
PERIOD = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
AS_OF = datetime(2027, 1, 1, tzinfo=UTC)


def _day(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _order(oid: str, paid: datetime | None, charge: str | None) -> dict[str, Any]:
    return {
        "id": oid, "state": "paid" if paid else "awaiting_payment", "currency": "usd",
        "amount_total": 1000, "application_fee_amount": 100, "seller_account": "acct_s",
        "deadline": (paid or _day(11, 1)) + timedelta(hours=1), "paid_at": paid,
        "payment_intent": None, "charge": charge, "amount_charged": 1000,
        "amount_refunded": 0, "dispute": None, "dispute_status": "none",
        "created_at": (paid or _day(11, 1)) - timedelta(minutes=5),
    }  # fmt: skip


def _charge(cid: str, order: str, created: datetime, amount: int = 1000) -> dict[str, Any]:
    return {
        "id": cid, "created": created, "amount": amount, "amount_refunded": 0, "currency": "usd",
        "status": "succeeded", "refunded": False, "disputed": False, "payment_intent": None,
        "balance_transaction": None, "application_fee": None, "application_fee_amount": 100,
        "destination": "acct_s", "transfer": None, "order_id": order, "attempt": "1",
        "synced_at": AS_OF,
    }  # fmt: skip


ORDERS = [
    _order("ord_a", _day(11, 10), "ch_a2"),  # own charge created after another: own one first
    _order("ord_b", _day(10, 20), None),  # paid before the period, charged again in it
    _order("ord_d", _day(11, 12), None),  # paid, never charged
    _order("ord_e", _day(9, 1), "ch_e"),  # all before the period: out of scope
    _order("ord_f", _day(11, 15), "ch_f"),
]
CHARGES = [
    _charge("ch_a1", "ord_a", _day(11, 10, 9)),
    _charge("ch_a2", "ord_a", _day(11, 10, 10)),
    _charge("ch_b1", "ord_b", _day(10, 20)),
    _charge("ch_b2", "ord_b", _day(11, 5)),
    _charge("ch_c", "ord_c", _day(11, 3)),  # no such order here
    _charge("ch_e", "ord_e", _day(9, 1), amount=999),
    _charge("ch_f", "ord_f", _day(11, 15), amount=1200),
]
EXPECTED = {
    ("missing_in_stripe", "ord_d", None, "no charge"),
    ("missing_locally", "ord_c", "ch_c", "no order"),
    ("amount_over", "ord_f", "ch_f", "charge"),
    ("duplicate_charge", "ord_a", "ch_a1", "ch_a2"),
    ("duplicate_charge", "ord_b", "ch_b2", "ch_b1"),
}


def _write(path: Path, table: pa.Table) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return str(path)


@pytest.mark.parametrize("local", ["arrow", "parquet"], ids=["arrow", "parquet"])
def test_charges_are_ranked_and_scoped(tmp_path: Path, local: str) -> None:
    charges = pa.Table.from_pylist(CHARGES, schema=SCHEMAS["charges"])
    _write(tmp_path / "ledger" / "charges" / "date=2026-11-01" / "part.parquet", charges)
    orders = pa.Table.from_pylist(ORDERS, schema=ORDER_SCHEMA)
    con = connect(memory_limit="256MB", threads=2)
    register_ledger(con, tmp_path)
    if local == "arrow":
        con.register("orders", orders)
    else:
        register_parquet(con, "orders", [_write(tmp_path / "local" / "orders.parquet", orders)])
    found, expected = find(
        con, SQL_DIR, period_from=PERIOD[0], period_to=PERIOD[1], as_of=AS_OF, slas=Slas()
    )
    assert {(f.kind, f.order_id, f.stripe_id, f.detail) for f in found} == EXPECTED
    assert len(found) == len(EXPECTED) and expected == []


def test_a_held_order_is_a_finding_at_once(tmp_path: Path) -> None:
    held = {**_order("ord_h", None, None), "state": "payment_mismatch"}
    charge = _charge("ch_h", "ord_h", _day(11, 20), amount=1500)
    charges = pa.Table.from_pylist([charge], schema=SCHEMAS["charges"])
    _write(tmp_path / "ledger" / "charges" / "date=2026-11-20" / "part.parquet", charges)
    con = connect(memory_limit="256MB", threads=2)
    register_ledger(con, tmp_path)
    con.register("orders", pa.Table.from_pylist([held], schema=ORDER_SCHEMA))
    as_of = _day(11, 20, 13)  # an hour after the charge: inside the webhook SLA
    found, expected = find(
        con, SQL_DIR, period_from=PERIOD[0], period_to=PERIOD[1], as_of=as_of, slas=Slas()
    )
    assert [(f.kind, f.order_id, f.stripe_id, f.detail) for f in found] == [
        ("missing_locally", "ord_h", "ch_h", "order held: payment does not match it")
    ]
    assert expected == []
