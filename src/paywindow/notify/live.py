"""Live order status: an order's state changes read after a position, and the stream's rules.

The position is the id of a row in ``order_transitions`` (one row per state change, written by
``payments.apply_change``). Every change of one order is written while its row is locked
(``FOR UPDATE`` on PostgreSQL, the single writer on SQLite), so an order's transition ids grow
in commit order: a reader asking for ids above the last it saw never misses one, even though
ids of *different* orders commit out of order (which the outbox needs ``seq`` for).

The stream itself (Server-Sent Events) is served by ``paywindow.web.live``; what is decided
here: when the stream is over for the buyer (:func:`settled`) and how an event is written
(:func:`sse`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from paywindow.errors import NotFound
from paywindow.payments import OrderState
from paywindow.store.tables import order_transitions, orders

__all__ = [
    "SETTLED_STATES",
    "LiveConfig",
    "Transition",
    "order_clock",
    "settled",
    "sse",
    "state_after",
    "transitions_after",
]

#: States nothing the buyer does (or sees in the webview) can change: the payment is taken,
#: refunded as late, or held for finance. Later refunds and disputes are days away and are
#: told to the marketplace by webhook and feed, not to a waiting webview.
SETTLED_STATES = frozenset(
    {
        OrderState.PAID,
        OrderState.PARTIALLY_REFUNDED,
        OrderState.REFUNDED,
        OrderState.DISPUTED,
        OrderState.DISPUTE_WON,
        OrderState.DISPUTE_LOST,
        OrderState.LATE_PAYMENT_REFUNDED,
        OrderState.PAYMENT_MISMATCH,
    }
)


@dataclass(frozen=True)
class LiveConfig:
    """How a live-status stream runs.

    ``tick``: seconds between ``tick`` events (server time). ``poll``: seconds between reads of
    the order's transitions. ``expired_grace``: how long after the deadline an expired order's
    stream stays open, because a payment completed just before the deadline (its webhook late)
    still turns it ``paid``, and one completed after it turns it ``late_payment_refunded``.
    ``max_stream``: seconds after which a stream is closed without ``end`` (the browser
    reconnects with ``Last-Event-ID`` and resumes), so no connection is held forever.
    """

    tick: float = 15.0
    poll: float = 1.0
    expired_grace: timedelta = timedelta(minutes=10)
    max_stream: float = 600.0
    retry_ms: int = 2000


@dataclass(frozen=True)
class Transition:
    id: int
    from_state: OrderState
    to_state: OrderState
    reason: str
    at: datetime


def _transition(row: Any) -> Transition:
    return Transition(
        id=int(row.id),
        from_state=OrderState(row.from_state),
        to_state=OrderState(row.to_state),
        reason=row.reason,
        at=row.at,
    )


def order_clock(engine: Engine, order_id: str) -> tuple[datetime, int]:
    """The order's deadline and its latest transition id (0 when it has none); NotFound."""
    with engine.connect().execution_options(read_only=True) as conn:
        deadline = conn.execute(
            select(orders.c.deadline).where(orders.c.id == order_id)
        ).scalar_one_or_none()
        if deadline is None:
            raise NotFound(f"no order {order_id}")
        latest = conn.execute(
            select(func.coalesce(func.max(order_transitions.c.id), 0)).where(
                order_transitions.c.order_id == order_id
            )
        ).scalar_one()
    return deadline, int(latest)


def transitions_after(
    engine: Engine, order_id: str, after: int, *, limit: int = 100
) -> list[Transition]:
    """The order's state changes with an id above ``after``, oldest first."""
    query = (
        select(order_transitions)
        .where(order_transitions.c.order_id == order_id, order_transitions.c.id > after)
        .order_by(order_transitions.c.id)
        .limit(limit)
    )
    with engine.connect().execution_options(read_only=True) as conn:
        return [_transition(row) for row in conn.execute(query)]


def state_after(engine: Engine, order_id: str, position: int) -> OrderState:
    """The order's stored state once the transitions up to ``position`` were applied (an
    order starts ``awaiting_payment``); what a client resuming at ``position`` last saw."""
    query = (
        select(order_transitions.c.to_state)
        .where(order_transitions.c.order_id == order_id, order_transitions.c.id <= position)
        .order_by(order_transitions.c.id.desc())
        .limit(1)
    )
    with engine.connect().execution_options(read_only=True) as conn:
        found = conn.execute(query).scalar_one_or_none()
    return OrderState(found) if found is not None else OrderState.AWAITING_PAYMENT


def settled(state: OrderState, deadline: datetime, now: datetime, grace: timedelta) -> bool:
    """Whether the stream is over: a settled state, or expired for longer than ``grace``."""
    if state in SETTLED_STATES:
        return True
    return state is OrderState.EXPIRED and now >= deadline + grace


def sse(event: str, data: dict[str, Any], *, event_id: int | None = None) -> str:
    """One Server-Sent Event; ``data`` as one line of JSON. Without an id the browser keeps
    its last one, so ticks and deadline flips never move the resume position."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), default=str))
    return "\n".join(lines) + "\n\n"
