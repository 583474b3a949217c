"""Receipt numbers: unique, stable and sequential without gaps.

Design. A number is ``<prefix>-<year>-<seq>`` (``R-2026-000042`` for receipts, ``CN-2026-000007``
for credit notes); each (prefix, year) is a *series* with one counter row in
``receipt_counters``. :func:`allocate` increments that row (``UPDATE ... RETURNING``) in the
transaction that inserts the receipt's row, so:

* **gap-free** — the counter and the row carrying its value commit or roll back together, and
  receipt rows are never deleted: every value 1..last_value of a series names exactly one
  document. A document whose rendering keeps failing keeps its number and is retried (or
  re-rendered by an admin); it never gives its number back.
* **unique** — ``UNIQUE (series, seq)`` and ``UNIQUE (number)``; on PostgreSQL concurrent
  allocators queue on the counter row's lock until the first commits, on SQLite every write
  transaction is ``BEGIN IMMEDIATE``. Values within a series follow commit order.
* **stable** — the number is chosen once, when the job is created, *before* the PDF that prints
  it is rendered; retries, crashes and re-renders reuse it, and the object key contains it.

The number is allocated when the job is created rather than when it completes because the PDF
prints it: allocating at completion would mean rendering without knowing it. Creating the row
is the "claim" of the order, so this is the same guarantee the brief asks for.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update

from paywindow.store.sql import insert_ignoring_conflicts
from paywindow.store.tables import receipt_counters

__all__ = ["PREFIXES", "allocate", "format_number", "series_for"]

#: Number prefix per document kind.
PREFIXES = {"receipt": "R", "credit_note": "CN"}


def series_for(kind: str, issued_at: datetime) -> str:
    return f"{PREFIXES[kind]}-{issued_at.year}"


def format_number(series: str, seq: int) -> str:
    return f"{series}-{seq:06d}"


def allocate(conn: Connection, series: str) -> int:
    """The next value of ``series``; call inside the transaction that stores it."""
    insert_ignoring_conflicts(conn, receipt_counters, [{"series": series, "last_value": 0}])
    value = conn.execute(
        update(receipt_counters)
        .where(receipt_counters.c.series == series)
        .values(last_value=receipt_counters.c.last_value + 1)
        .returning(receipt_counters.c.last_value)
    ).scalar_one()
    return int(value)
