"""SQL helpers every package shares: insert-or-ignore on both backends, and retry backoff."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

__all__ = ["backoff", "insert_ignoring_conflicts"]


def insert_ignoring_conflicts(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> int:
    """Insert ``rows``, skipping any that violate a unique constraint; return rows inserted."""
    if not rows:
        return 0
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    # rowcount is not reliable for ON CONFLICT on every driver: count the returned keys
    statement = dialect_insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return sum(len(conn.execute(statement, row).all()) for row in rows)


def backoff(attempts: int, *, base: float = 2.0, cap: float = 3600.0) -> timedelta:
    """Delay before attempt ``attempts + 1``: ``base``, doubling each time, capped at ``cap``
    seconds (2 s, 4 s, 8 s, ... an hour with the defaults)."""
    return timedelta(seconds=min(cap, base * 2 ** max(attempts - 1, 0)))
