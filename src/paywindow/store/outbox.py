"""The outbox: messages for the marketplace app (order.expired, payment.retry_link,
receipt.generated, ...), written in the same transaction as the change they announce.

``dedupe_key`` makes writing idempotent: a re-run that would announce the same thing twice
adds nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from paywindow.store.sql import insert_ignoring_conflicts
from paywindow.store.tables import outbox

__all__ = ["pending_messages", "write_message"]


def write_message(
    conn: Connection,
    *,
    topic: str,
    dedupe_key: str,
    payload: dict[str, Any],
    now: datetime,
    order_id: str | None = None,
) -> bool:
    """Add one message unless one with ``dedupe_key`` exists; True if it was added."""
    row = {
        "topic": topic,
        "order_id": order_id,
        "dedupe_key": dedupe_key,
        "payload": json.dumps(payload, sort_keys=True, default=str),
        "created_at": now,
    }
    return insert_ignoring_conflicts(conn, outbox, [row]) == 1


def pending_messages(conn: Connection, topic: str | None = None) -> list[dict[str, Any]]:
    """Unpublished messages, oldest first, with their payload decoded."""
    query = select(outbox).where(outbox.c.published_at.is_(None)).order_by(outbox.c.id)
    if topic:
        query = query.where(outbox.c.topic == topic)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return rows
