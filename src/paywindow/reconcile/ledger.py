"""The local copy of Stripe's ledger: Parquet files partitioned by the day objects were created.

Layout: ``<data_dir>/ledger/<table>/date=YYYY-MM-DD/part.parquet``. Each table has a fixed
Arrow schema (:data:`SCHEMAS`); Stripe objects are flattened into it by :func:`flatten`.

Invariant: within a table an ``id`` appears once. :func:`write_rows` merges new rows into the
partitions they belong to, the most recently synced copy of an object winning, and replaces
each partition file atomically, so a sync can be repeated or interrupted at any point.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from paywindow.gateway.metadata import ATTEMPT_KEY, ORDER_KEY

__all__ = ["SCHEMAS", "TABLES", "empty_table", "flatten", "ledger_files", "write_rows"]

_TS = pa.timestamp("us", tz="UTC")
_I = pa.int64()
_S = pa.string()
_B = pa.bool_()


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([*fields, ("synced_at", _TS)])


SCHEMAS: dict[str, pa.Schema] = {
    "balance_transactions": _schema(
        ("id", _S), ("created", _TS), ("available_on", _TS), ("amount", _I), ("fee", _I),
        ("net", _I), ("stripe_fee", _I), ("currency", _S), ("type", _S),
        ("reporting_category", _S), ("source", _S), ("status", _S), ("description", _S),
    ),
    "charges": _schema(
        ("id", _S), ("created", _TS), ("amount", _I), ("amount_refunded", _I), ("currency", _S),
        ("status", _S), ("refunded", _B), ("disputed", _B), ("payment_intent", _S),
        ("balance_transaction", _S), ("application_fee", _S), ("application_fee_amount", _I),
        ("destination", _S), ("transfer", _S), ("order_id", _S), ("attempt", _S),
    ),
    "refunds": _schema(
        ("id", _S), ("created", _TS), ("amount", _I), ("currency", _S), ("charge", _S),
        ("payment_intent", _S), ("status", _S), ("reason", _S), ("balance_transaction", _S),
    ),
    "disputes": _schema(
        ("id", _S), ("created", _TS), ("amount", _I), ("currency", _S), ("charge", _S),
        ("payment_intent", _S), ("status", _S), ("reason", _S),
    ),
    "payouts": _schema(
        ("id", _S), ("created", _TS), ("arrival_date", _TS), ("amount", _I), ("currency", _S),
        ("status", _S), ("automatic", _B), ("balance_transaction", _S),
    ),
    "payout_items": _schema(
        ("id", _S), ("created", _TS), ("payout", _S), ("balance_transaction", _S),
    ),
    "transfers": _schema(
        ("id", _S), ("created", _TS), ("amount", _I), ("amount_reversed", _I), ("currency", _S),
        ("destination", _S), ("source_transaction", _S), ("balance_transaction", _S),
    ),
    "application_fees": _schema(
        ("id", _S), ("created", _TS), ("amount", _I), ("amount_refunded", _I), ("currency", _S),
        ("charge", _S), ("account", _S), ("balance_transaction", _S),
    ),
}  # fmt: skip
TABLES: tuple[str, ...] = tuple(SCHEMAS)


def _ts(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(int(value), UTC)


def _id_of(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return str(value["id"])
    return None if value is None else str(value)


def flatten(table: str, obj: Mapping[str, Any], synced_at: datetime) -> dict[str, Any]:
    """One Stripe object (as a dict) as a row of ``table``."""
    row: dict[str, Any] = {name: obj.get(name) for name in SCHEMAS[table].names}
    for name in ("created", "available_on", "arrival_date"):
        if name in row:
            row[name] = _ts(obj.get(name))
    for name in (
        "source", "charge", "payment_intent", "balance_transaction", "application_fee",
        "transfer", "destination", "source_transaction", "account",
    ):  # fmt: skip
        if name in row:
            row[name] = _id_of(obj.get(name))
    if table == "balance_transactions":
        details = obj.get("fee_details") or []
        row["stripe_fee"] = sum(int(d["amount"]) for d in details if d.get("type") == "stripe_fee")
    if table == "charges":
        metadata = obj.get("metadata") or {}
        row["order_id"] = metadata.get(ORDER_KEY)
        row["attempt"] = metadata.get(ATTEMPT_KEY)
        row["destination"] = _id_of((obj.get("transfer_data") or {}).get("destination"))
    if table == "application_fees":
        row["charge"] = _id_of(obj.get("originating_transaction") or obj.get("charge"))
    row["synced_at"] = synced_at
    return row


def empty_table(table: str) -> pa.Table:
    return SCHEMAS[table].empty_table()


def _partition_dir(root: Path, table: str, day: str) -> Path:
    return root / "ledger" / table / f"date={day}"


def ledger_files(root: Path, table: str) -> list[str]:
    """Every Parquet file of ``table`` under ``root`` (the data directory), sorted."""
    return sorted(str(p) for p in (root / "ledger" / table).glob("date=*/*.parquet"))


def write_rows(root: Path, table: str, rows: Iterable[dict[str, Any]]) -> int:
    """Merge ``rows`` into their day partitions; return how many rows were written."""
    by_day: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(row["created"].strftime("%Y-%m-%d"), []).append(row)
    schema = SCHEMAS[table]
    for day, fresh in by_day.items():
        folder = _partition_dir(root, table, day)
        target = folder / "part.parquet"
        merged: dict[str, dict[str, Any]] = {}
        if target.exists():
            for old in pq.read_table(target, schema=schema).to_pylist():
                merged[old["id"]] = old
        for row in fresh:
            old = merged.get(row["id"])
            if old is None or old["synced_at"] <= row["synced_at"]:
                merged[row["id"]] = row
        ordered = sorted(merged.values(), key=lambda r: (r["created"], r["id"]))
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".part.{os.getpid()}.tmp"
        pq.write_table(pa.Table.from_pylist(ordered, schema=schema), tmp)
        os.replace(tmp, target)
    return sum(len(v) for v in by_day.values())
