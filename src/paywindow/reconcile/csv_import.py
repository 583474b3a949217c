"""Stripe's itemized report CSVs, as finance downloads them from the Dashboard, onto the ledger.

Two reports are understood, told apart by their columns:

* *Balance change from activity (itemized)*: one row per balance transaction
  (``balance_transaction_id``, ``created_utc``, ``available_on_utc``, ``currency``, ``gross``,
  ``fee``, ``net``, ``reporting_category``, ``source_id``, ``description``); rows in the
  ``payout`` category also give the payout itself.
* *Payout reconciliation (itemized)*: the same columns plus ``automatic_payout_id``: which
  payout settled each balance transaction (``payout_items``).

Report amounts are decimals in major units; they are converted to minor units exactly (a
fraction of a minor unit is refused). Rows are merged by id like a sync, so importing the same
file twice, or a file overlapping an API sync, changes nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paywindow.reconcile.amounts import to_minor
from paywindow.reconcile.ledger import flatten, write_rows

__all__ = ["import_report_csv"]

_REQUIRED = {"balance_transaction_id", "created_utc", "currency", "gross", "fee", "net"}

#: reporting_category → balance transaction type, where the report does not say.
_TYPES = {
    "charge": "charge",
    "refund": "refund",
    "dispute": "adjustment",
    "dispute_reversal": "adjustment",
    "platform_earning": "application_fee",
    "platform_earning_refund": "application_fee_refund",
    "transfer": "transfer",
    "transfer_reversal": "transfer_refund",
    "payout": "payout",
    "fee": "stripe_fee",
}


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _bt(row: dict[str, str]) -> dict[str, Any]:
    currency = row["currency"].strip().lower()
    category = (row.get("reporting_category") or "").strip()
    return {
        "id": row["balance_transaction_id"].strip(),
        "created": _when(row["created_utc"]),
        "available_on": _when(row.get("available_on_utc")),
        "amount": to_minor(row["gross"], currency),
        "fee": to_minor(row["fee"], currency),
        "net": to_minor(row["net"], currency),
        "currency": currency,
        "type": _TYPES.get(category, category),
        "reporting_category": category,
        "source": (row.get("source_id") or "").strip() or None,
        "status": "available",
        "description": row.get("description") or None,
    }


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = _REQUIRED - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path.name}: not a Stripe itemized report (no {sorted(missing)})")
        yield from reader


def import_report_csv(path: Path, data_dir: Path, *, now: datetime) -> dict[str, int]:
    """Import one itemized report CSV; return rows written per ledger table."""
    txns, payouts, items = [], [], []
    for raw in _rows(path):
        bt = _bt(raw)
        bt["stripe_fee"] = bt["fee"] if bt["type"] in ("charge", "payment") else 0
        txns.append(flatten("balance_transactions", bt, now) | {"stripe_fee": bt["stripe_fee"]})
        payout_id = (raw.get("automatic_payout_id") or "").strip()
        if payout_id:
            paid = _when(raw.get("automatic_payout_effective_at")) or bt["created"]
            item = {"id": f"{payout_id}:{bt['id']}", "created": paid, "payout": payout_id}
            items.append(flatten("payout_items", item | {"balance_transaction": bt["id"]}, now))
        if bt["reporting_category"] == "payout" and bt["source"]:
            payout = {"id": bt["source"], "created": bt["created"], "amount": -bt["amount"]}
            payout |= {"currency": bt["currency"], "status": "paid", "automatic": True}
            payout |= {"balance_transaction": bt["id"], "arrival_date": bt["available_on"]}
            payouts.append(flatten("payouts", payout, now))
    return {
        "balance_transactions": write_rows(data_dir, "balance_transactions", txns),
        "payouts": write_rows(data_dir, "payouts", payouts),
        "payout_items": write_rows(data_dir, "payout_items", items),
    }
