"""What on-call reads about notifications: messages with each endpoint's delivery."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, exists, select

from paywindow.notify.feed import message_id
from paywindow.store.tables import notification_deliveries, outbox

__all__ = ["list_messages"]


def list_messages(
    engine: Engine, *, failed: bool = False, order_id: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Recent messages, newest first; ``failed``: only those with a delivery not delivered."""
    d = notification_deliveries
    query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if order_id is not None:
        query = query.where(outbox.c.order_id == order_id)
    if failed:
        query = query.where(
            exists().where(d.c.message_id == outbox.c.id, d.c.status != "delivered")
        )
    with engine.connect().execution_options(read_only=True) as conn:
        messages = conn.execute(query).all()
        ids = [m.id for m in messages]
        deliveries = conn.execute(select(d).where(d.c.message_id.in_(ids)).order_by(d.c.id)).all()
    by_message: dict[int, list[dict[str, Any]]] = {}
    for row in deliveries:
        by_message.setdefault(row.message_id, []).append(
            {
                "endpoint_id": row.endpoint_id,
                "status": row.status,
                "attempts": row.attempts,
                "last_status": row.last_status,
                "last_error": row.last_error,
                "next_attempt_at": row.next_attempt_at.isoformat(),
                "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
            }
        )
    return [
        {
            "id": message_id(m.id),
            "type": m.topic,
            "order_id": m.order_id,
            "created_at": m.created_at.isoformat(),
            "seq": m.seq,
            "deliveries": by_message.get(m.id, []),
        }
        for m in messages
    ]
