"""Read-only views for on-call: events and orders as plain dicts (the CLI prints them)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from paywindow.errors import NotFound
from paywindow.payments.repository import get_order
from paywindow.store.tables import event_log

__all__ = ["list_events", "show_event", "show_order"]

_SUMMARY = [
    event_log.c.event_id,
    event_log.c.type,
    event_log.c.status,
    event_log.c.attempts,
    event_log.c.order_id,
    event_log.c.received_at,
    event_log.c.note,
    event_log.c.last_error,
]


def list_events(
    engine: Engine,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest events first, optionally filtered by status and type."""
    query = select(*_SUMMARY).order_by(event_log.c.id.desc()).limit(limit)
    if status:
        query = query.where(event_log.c.status == status)
    if kind:
        query = query.where(event_log.c.type == kind)
    with engine.connect().execution_options(read_only=True) as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def show_event(engine: Engine, event_id: str) -> dict[str, Any]:
    """Everything recorded for one event, with its body decoded."""
    with engine.connect().execution_options(read_only=True) as conn:
        row = (
            conn.execute(select(event_log).where(event_log.c.event_id == event_id))
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound(f"no event {event_id}")
    result = dict(row)
    body = result.pop("body")
    try:
        result["body"] = json.loads(body)
    except ValueError:
        result["body"] = body.decode("utf-8", "replace")
    result["headers"] = json.loads(result["headers"])
    return result


def show_order(engine: Engine, order_id: str) -> dict[str, Any]:
    with engine.connect().execution_options(read_only=True) as conn:
        return get_order(conn, order_id)


def to_json(value: Any) -> str:
    """JSON for admin output: datetimes as ISO-8601."""

    def default(obj: Any) -> Any:
        if isinstance(obj, datetime):
            return obj.isoformat()
        if isinstance(obj, bytes):
            return obj.decode("utf-8", "replace")
        raise TypeError(type(obj).__name__)

    return json.dumps(value, indent=2, default=default)
