"""Window enforcement: close every payment window on time, to the second.

Design:
- :func:`close_window` is the one way a window closes: inside one transaction it re-reads the
  order (locked), and only if it is still payable and its deadline has passed it merges
  ``window_closed_at = now`` through the state machine (audit row, ``order.expired`` outbox).
- :class:`DeadlineTimer` gives the ±1 s precision: a sweep that runs every minute would be up
  to a minute late, so the timer sleeps until each deadline due before its horizon and closes
  it then. Stripe is told afterwards (``expire_stripe_sessions``), so a slow Stripe call never
  delays the next deadline.
- A payment Stripe completed before the deadline whose webhook arrives later still wins
  (``expired -> paid``); one completed after it is refunded (:func:`refund_late_payments`).
- The backstop (``paywindow.inbox.backstop``) asks Stripe about sessions we have not heard
  of for a while and records what it says as an event for the processor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import stripe
from sqlalchemy import Engine, select, update

from paywindow.clock import Clock
from paywindow.errors import GatewayError
from paywindow.gateway.checkout import expire_session, refund_payment
from paywindow.observability import metrics
from paywindow.payments.apply import apply_change
from paywindow.payments.facts import AttemptStatus, Change
from paywindow.payments.states import OrderState
from paywindow.payments.window import OPEN_STATES
from paywindow.store.tables import attempts, orders

__all__ = [
    "DeadlineTimer",
    "close_overdue",
    "close_window",
    "expire_stripe_sessions",
    "refund_late_payments",
]

log = logging.getLogger(__name__)

_OPEN = [s.value for s in OPEN_STATES]


def close_window(engine: Engine, order_id: str, now: datetime) -> bool:
    """Close the order's window at ``now`` if it is still payable and past its deadline."""
    with engine.begin() as conn:
        query = select(orders.c.state, orders.c.deadline).where(orders.c.id == order_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None or row.state not in _OPEN or row.deadline > now:
            return False
        applied = apply_change(conn, order_id, Change(window_closed_at=now), now=now, event_id=None)
        return applied.after is OrderState.EXPIRED


def _due(engine: Engine, until: datetime, limit: int) -> list[tuple[str, datetime]]:
    with engine.connect().execution_options(read_only=True) as conn:
        rows = conn.execute(
            select(orders.c.id, orders.c.deadline)
            .where(orders.c.state.in_(_OPEN), orders.c.deadline <= until)
            .where(orders.c.window_closed_at.is_(None))
            .order_by(orders.c.deadline)
            .limit(limit)
        ).all()
    return [(r.id, r.deadline) for r in rows]


def close_overdue(engine: Engine, now: datetime, *, limit: int = 10_000) -> list[str]:
    """Close every window whose deadline has passed; the ids closed."""
    closed = [oid for oid, _ in _due(engine, now, limit) if close_window(engine, oid, now)]
    if closed:
        metrics().increment("expiry.windows_closed", len(closed), tags={"how": "overdue"})
    return closed


@dataclass
class DeadlineTimer:
    """Closes each window at its deadline until ``horizon`` (the next scheduled run).

    ``sleep`` and ``clock`` are injected so tests run it on a manual clock; ``on_closed`` is
    called with each closed order id (the flow uses it to expire the Stripe session).
    """

    engine: Engine
    clock: Clock
    sleep: Callable[[float], None]
    on_closed: Callable[[str], None] = lambda _order_id: None
    max_nap: float = 1.0
    closed: list[tuple[str, datetime, datetime]] = field(default_factory=list)

    def run(self, horizon: datetime) -> list[tuple[str, datetime, datetime]]:
        """Return (order id, deadline, closed at) for every window closed."""
        while True:
            now = self.clock.now()
            upcoming = _due(self.engine, min(horizon, now + timedelta(seconds=self.max_nap)), 500)
            due_now = [(oid, dl) for oid, dl in upcoming if dl <= now]
            for order_id, deadline in due_now:
                closed_at = self.clock.now()
                if close_window(self.engine, order_id, closed_at):
                    self.closed.append((order_id, deadline, closed_at))
                    _observe_close(order_id, deadline, closed_at)
                    self.on_closed(order_id)
            if due_now:
                continue
            if now >= horizon:
                return self.closed
            wake = min(
                [dl for _, dl in upcoming] + [horizon, now + timedelta(seconds=self.max_nap)]
            )
            self.sleep(max(0.0, (wake - now).total_seconds()))


def _observe_close(order_id: str, deadline: datetime, closed_at: datetime) -> None:
    lateness = (closed_at - deadline).total_seconds()
    metrics().distribution("expiry.lateness_seconds", lateness)
    metrics().increment("expiry.windows_closed", tags={"how": "on_time"})
    log.info("window closed", extra={"order_id": order_id, "lateness_s": lateness})


def expire_stripe_sessions(
    engine: Engine,
    client: stripe.StripeClient,
    now: datetime,
    *,
    order_ids: list[str] | None = None,
) -> int:
    """Expire at Stripe the sessions still open for orders whose window has closed.

    A session Stripe reports complete is left to the backstop (the payment wins if it came
    before the deadline). Stripe errors are left for the next run.
    """
    query = (
        select(attempts.c.order_id, attempts.c.attempt, attempts.c.session_id)
        .join(orders, orders.c.id == attempts.c.order_id)
        .where(attempts.c.status == "open", attempts.c.session_id.is_not(None))
        .where(orders.c.window_closed_at.is_not(None))
    )
    if order_ids is not None:
        query = query.where(attempts.c.order_id.in_(order_ids))
    with engine.connect().execution_options(read_only=True) as conn:
        rows = conn.execute(query.limit(1000)).all()
    done = 0
    for order_id, number, session_id in rows:
        try:
            session = expire_session(client, session_id)
        except GatewayError:
            continue
        status = {"expired": AttemptStatus.EXPIRED}.get(session.status)
        if status is None:
            continue
        with engine.begin() as conn:
            change = Change(attempt=number, attempt_status=status)
            apply_change(conn, order_id, change, now=now, event_id=None)
        done += 1
    return done


def refund_late_payments(
    engine: Engine, client: stripe.StripeClient, now: datetime, *, limit: int = 200
) -> list[str]:
    """Refund in full every payment Stripe completed after its order's deadline.

    Judged by Stripe's timestamps (``paid_at``), not arrival time. The refund reverses the
    transfer and the platform fee; the order becomes ``late_payment_refunded`` when Stripe's
    ``charge.refunded`` is applied. The idempotency key makes a repeated call harmless.
    """
    with engine.connect().execution_options(read_only=True) as conn:
        rows = conn.execute(
            select(orders.c.id, orders.c.payment_intent)
            .where(orders.c.paid_at > orders.c.deadline, orders.c.late_refund.is_(None))
            .where(orders.c.payment_intent.is_not(None))
            .limit(limit)
        ).all()
    refunded = []
    for order_id, payment_intent in rows:
        try:
            refund = refund_payment(
                client, payment_intent, reason_key="late_payment", order_id=order_id
            )
        except GatewayError:
            continue
        with engine.begin() as conn:
            won = conn.execute(
                update(orders)
                .where(orders.c.id == order_id, orders.c.late_refund.is_(None))
                .values(late_refund=refund)
            )
        if won.rowcount != 1:
            continue  # an overlapping run recorded the same (idempotent) refund first
        refunded.append(order_id)
        metrics().increment("expiry.late_refunds")
        log.info("late payment refunded", extra={"order_id": order_id, "refund": refund})
    return refunded
