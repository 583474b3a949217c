"""The delivery rows: their states, replays, and the backlog on-call and the alerts read."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, func, select, update

from paywindow.notify.endpoints import list_endpoints
from paywindow.store.sql import insert_ignoring_conflicts
from paywindow.store.tables import notification_deliveries, notification_endpoints, outbox

__all__ = ["FAILING", "GONE", "DeliveryStatus", "backlog", "fan_out", "replay"]

#: Why the relay disables an endpoint (an operator's own reasons differ).
GONE = "the endpoint answered 410 Gone"
FAILING = "every delivery failed for 5 days"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


def replay(
    engine: Engine,
    now: datetime,
    *,
    message_ids: list[int] | None = None,
    since: datetime | None = None,
    endpoint_id: str | None = None,
) -> int:
    """Deliver chosen messages again (by id, or every one since ``since``), to every endpoint
    that had them or to ``endpoint_id`` (which then gets them even if it never had); how many
    deliveries were scheduled."""
    query = select(outbox.c.id, outbox.c.topic, outbox.c.order_id, outbox.c.seq)
    query = query.where(outbox.c.seq.is_not(None))
    if message_ids:
        query = query.where(outbox.c.id.in_(message_ids))
    if since is not None:
        query = query.where(outbox.c.created_at >= since)
    scheduled = 0
    with engine.begin() as conn:
        messages = conn.execute(query).all()
        reset = {
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "claimed_by": None,
            "claimed_until": None,
        }
        for m in messages:
            target = notification_deliveries.c.message_id == m.id
            if endpoint_id is not None:
                target &= notification_deliveries.c.endpoint_id == endpoint_id
                new = {
                    "message_id": m.id,
                    "endpoint_id": endpoint_id,
                    "order_id": m.order_id,
                    "seq": m.seq,
                    "created_at": now,
                    **reset,
                }
                scheduled += insert_ignoring_conflicts(conn, notification_deliveries, [new])
            scheduled += conn.execute(
                update(notification_deliveries)
                .where(target, notification_deliveries.c.status != DeliveryStatus.PENDING)
                .values(**reset)
            ).rowcount
    return scheduled


def backlog(engine: Engine, now: datetime) -> dict[str, Any]:
    """Pending deliveries, the age of the oldest, dead ones, and the endpoints the relay
    disabled (410, or failing for days): for metrics and alerts."""
    d = notification_deliveries
    with engine.connect().execution_options(read_only=True) as conn:
        pending, oldest = conn.execute(
            select(func.count(), func.min(d.c.created_at)).where(
                d.c.status == DeliveryStatus.PENDING
            )
        ).one()
        dead = conn.execute(
            select(func.count()).where(d.c.status == DeliveryStatus.DEAD)
        ).scalar_one()
        disabled = (
            conn.execute(
                select(notification_endpoints.c.id).where(
                    notification_endpoints.c.disabled_at.is_not(None),
                    notification_endpoints.c.disabled_reason.in_([GONE, FAILING]),
                )
            )
            .scalars()
            .all()
        )
    age = (now - oldest).total_seconds() if oldest is not None else 0.0
    return {
        "pending": int(pending),
        "oldest_pending_s": age,
        "dead": int(dead),
        "endpoints_disabled": list(disabled),
    }


def fan_out(engine: Engine, now: datetime, *, limit: int = 5_000) -> int:
    """One delivery per subscribed endpoint for each new message; how many. A disabled
    endpoint's deliveries wait for it (nothing is sent until it is enabled again)."""
    with engine.begin() as conn:
        query = (
            select(outbox.c.id, outbox.c.topic, outbox.c.order_id, outbox.c.seq)
            .where(outbox.c.published_at.is_(None), outbox.c.seq.is_not(None))
            .order_by(outbox.c.seq)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        messages = conn.execute(query).all()
        if not messages:
            return 0
        endpoints = list_endpoints(conn)
        rows = [
            {
                "message_id": m.id,
                "endpoint_id": endpoint.id,
                "order_id": m.order_id,
                "seq": m.seq,
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for m in messages
            for endpoint in endpoints
            if endpoint.wants(m.topic)
        ]
        queued = insert_ignoring_conflicts(conn, notification_deliveries, rows) if rows else 0
        ids = [m.id for m in messages]
        conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(published_at=now))
    return queued
