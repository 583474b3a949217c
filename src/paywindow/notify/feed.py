"""The feed position of outbox messages: given in the order they became visible.

An outbox row's id is taken when its transaction inserts it, but transactions commit in any
order, so a reader paging by id could pass a row that commits later with a smaller id and
never see it. :func:`sequence` therefore gives each committed message a ``seq`` under one lock
(PostgreSQL: a transaction advisory lock; SQLite: its single writer), in id order: a message
that commits after a pass gets a higher ``seq`` in the next. A reader paging by ``seq`` (the
pull feed, the relay) never misses a message and never sees one twice.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, text, update

from paywindow.store.tables import outbox

__all__ = ["SEQUENCE_LOCK", "message_id", "message_view", "read_feed", "sequence", "sequence_in"]

#: The advisory lock key of the sequencer on PostgreSQL ("paywindow.notify.feed").
SEQUENCE_LOCK = 0x70770001


def sequence(engine: Engine, *, limit: int = 5_000) -> int:
    """Give the next ``seq`` numbers to committed messages that have none; how many."""
    with engine.begin() as conn:
        return sequence_in(conn, limit=limit)


def sequence_in(conn: Connection, *, limit: int = 5_000) -> int:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCE_LOCK})
    waiting = (
        conn.execute(
            select(outbox.c.id).where(outbox.c.seq.is_(None)).order_by(outbox.c.id).limit(limit)
        )
        .scalars()
        .all()
    )
    if not waiting:
        return 0
    last = conn.execute(select(func.coalesce(func.max(outbox.c.seq), 0))).scalar_one()
    statement = (
        update(outbox).where(outbox.c.id == bindparam("b_id")).values(seq=bindparam("b_seq"))
    )
    rows = [{"b_id": i, "b_seq": last + n} for n, i in enumerate(waiting, start=1)]
    conn.execute(statement, rows)
    return len(waiting)


def message_view(row: Any) -> dict[str, Any]:
    """A message as the marketplace sees it (webhook body, feed item): the Standard Webhooks
    envelope ``{"type", "timestamp", "data"}`` plus its id and feed position."""
    return {
        "id": message_id(row.id),
        "type": row.topic,
        "timestamp": row.created_at.isoformat().replace("+00:00", "Z"),
        "seq": row.seq,
        "order_id": row.order_id,
        "data": json.loads(row.payload),
    }


def message_id(outbox_id: int) -> str:
    """The message id the marketplace sees (``webhook-id``): stable across retries."""
    return f"msg_{outbox_id:012d}"


def read_feed(engine: Engine, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Messages with ``seq`` above ``after``, in ``seq`` order, at most ``limit``."""
    sequence(engine)
    query = (
        select(outbox)
        .where(outbox.c.seq.is_not(None), outbox.c.seq > after)
        .order_by(outbox.c.seq)
        .limit(limit)
    )
    with engine.connect().execution_options(read_only=True) as conn:
        return [message_view(row) for row in conn.execute(query)]
