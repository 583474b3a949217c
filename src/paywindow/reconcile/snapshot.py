"""The local side of reconciliation: orders and their attempts as of a time.

Rows are read from the operational store with SQLAlchemy into Arrow tables, which DuckDB
then queries in place. DuckDB never connects to the operational store, so reconciliation
takes no lock a payment could wait on, and runs the same on SQLite and PostgreSQL.

"As of" means: the orders that existed then. Money facts on an order only grow (see
``payments/facts.py``), so an order whose ``paid_at`` is after ``as_of`` is shown as not paid
yet; refunds and disputes recorded later are visible (the snapshot is of the store now).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, Table, select

from paywindow.store.tables import attempts, orders

__all__ = ["ATTEMPT_SCHEMA", "ORDER_SCHEMA", "LocalSnapshot", "take_snapshot"]

_TS = pa.timestamp("us", tz="UTC")

ORDER_SCHEMA = pa.schema(
    [
        ("id", pa.string()), ("state", pa.string()), ("currency", pa.string()),
        ("amount_total", pa.int64()), ("application_fee_amount", pa.int64()),
        ("seller_account", pa.string()), ("deadline", _TS), ("paid_at", _TS),
        ("payment_intent", pa.string()), ("charge", pa.string()),
        ("amount_charged", pa.int64()), ("amount_refunded", pa.int64()),
        ("dispute", pa.string()), ("dispute_status", pa.string()), ("created_at", _TS),
    ]
)  # fmt: skip
ATTEMPT_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()), ("attempt", pa.int64()), ("session_id", pa.string()),
        ("payment_intent", pa.string()), ("status", pa.string()), ("completed_at", _TS),
    ]
)  # fmt: skip


@dataclass(frozen=True)
class LocalSnapshot:
    """Arrow tables of the local state."""

    as_of: datetime
    orders: pa.Table
    attempts: pa.Table


def _read(engine: Engine, table: Table, schema: pa.Schema, where: Any) -> pa.Table:
    columns = [table.c[name] for name in schema.names]
    batches: list[pa.RecordBatch] = []
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=50_000).execute(select(*columns).where(where))
        for part in result.partitions():
            rows = [dict(zip(schema.names, row, strict=True)) for row in part]
            batches.append(pa.RecordBatch.from_pylist(rows, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


def take_snapshot(engine: Engine, as_of: datetime) -> LocalSnapshot:
    """Orders created by ``as_of`` (paid only if paid by then), and their attempts."""
    order_rows = _read(engine, orders, ORDER_SCHEMA, orders.c.created_at <= as_of)
    paid_at = order_rows.column("paid_at")
    late = pc.fill_null(pc.greater(paid_at, pa.scalar(as_of, _TS)), False)
    order_rows = order_rows.set_column(
        order_rows.schema.get_field_index("paid_at"),
        "paid_at",
        pc.if_else(late, pa.scalar(None, _TS), paid_at),
    )
    attempt_rows = _read(engine, attempts, ATTEMPT_SCHEMA, attempts.c.created_at <= as_of)
    return LocalSnapshot(as_of, order_rows, attempt_rows)
