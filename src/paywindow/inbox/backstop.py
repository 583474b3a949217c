"""The backstop: what Stripe says of sessions we have not heard about, recorded as events.

A webhook can be lost. :func:`backstop_sweep` re-reads at Stripe the sessions of unsettled orders
that have not been synced for a while, and records what Stripe says (complete, expired) as an
event in the log with source ``backstop``, so it goes through the same processor as a webhook
would. :func:`record_session` does the same for one session that checkout or a retry found
complete, and applies it at once.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import stripe
from sqlalchemy import Engine, or_, select, update

from paywindow.errors import GatewayError
from paywindow.gateway.checkout import retrieve_session
from paywindow.inbox.eventlog import event_row, insert_events, parse_event
from paywindow.inbox.processor import process_events
from paywindow.payments import OPEN_STATES, OrderState
from paywindow.store.tables import attempts, orders

__all__ = ["backstop_sweep", "record_session"]

#: Orders the backstop watches: unsettled, or expired by us with a session Stripe may have
#: completed just before the deadline.
_UNSETTLED = [
    *(s.value for s in OPEN_STATES),
    OrderState.PROCESSING.value,
    OrderState.EXPIRED.value,
]


def backstop_sweep(
    engine: Engine,
    client: stripe.StripeClient,
    now: datetime,
    *,
    stale_after: timedelta = timedelta(minutes=5),
    limit: int = 100,
    order_ids: list[str] | None = None,
) -> int:
    """Re-read at Stripe the sessions of unsettled orders not synced for ``stale_after``
    (or of exactly ``order_ids``).

    A session Stripe says is complete or expired, which we have not recorded, becomes an
    event in the log (source ``backstop``) for the processor; returns how many were recorded.
    """
    query = (
        select(orders.c.id, attempts.c.session_id)
        .join(attempts, attempts.c.order_id == orders.c.id)
        .where(orders.c.state.in_(_UNSETTLED), attempts.c.session_id.is_not(None))
        .where(attempts.c.status.in_(["open", "processing"]))
        .order_by(orders.c.synced_at.is_not(None), orders.c.synced_at)
    )
    if order_ids is None:
        stale = or_(orders.c.synced_at.is_(None), orders.c.synced_at < now - stale_after)
        query = query.where(stale).limit(limit)
    else:
        query = query.where(orders.c.id.in_(order_ids))
    with engine.connect().execution_options(read_only=True) as conn:
        rows = conn.execute(query).all()
    recorded: list[dict[str, Any]] = []
    for order_id, session_id in rows:
        try:
            session = retrieve_session(client, session_id)
        except GatewayError:
            continue
        event = _as_event(session)
        if event is not None:
            recorded.append(event)
        with engine.begin() as conn:
            conn.execute(update(orders).where(orders.c.id == order_id).values(synced_at=now))
    return len(_insert_backstop(engine, recorded, now))


def record_session(engine: Engine, session: dict[str, Any], now: datetime) -> str | None:
    """Log what Stripe says of a complete or expired session as a backstop event and apply it
    now; the event id, or None when the session is still open."""
    event = _as_event(session)
    if event is None:
        return None
    _insert_backstop(engine, [event], now)
    process_events(engine, [str(event["id"])], now)
    return str(event["id"])


def _insert_backstop(engine: Engine, events: list[dict[str, Any]], now: datetime) -> set[str]:
    rows_out = []
    for event in events:
        body = json.dumps(event, separators=(",", ":")).encode()
        rows_out.append(event_row(body, parse_event(body), received_at=now, source="backstop"))
    return insert_events(engine, rows_out)


def _as_event(session: dict[str, Any]) -> dict[str, Any] | None:
    """The webhook Stripe would have sent for the session's current status, if any."""
    status, pay = session.get("status"), session.get("payment_status")
    intent = session.get("payment_intent")
    if status == "complete":
        kind = "checkout.session.completed"
        created = intent.get("created") if isinstance(intent, dict) else None
    elif status == "expired":
        kind, created = "checkout.session.expired", session.get("expires_at")
    else:
        return None
    if isinstance(intent, dict):
        session = {**session, "payment_intent": intent.get("id")}
    return {
        "id": f"evt_backstop_{session['id']}_{status}_{pay}",
        "object": "event",
        "type": kind,
        "created": int(created or session.get("created") or 0),
        "data": {"object": session},
        "livemode": bool(session.get("livemode", False)),
        "api_version": None,
        "request": None,
    }
