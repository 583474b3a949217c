"""One run of window enforcement, as the ``expire-windows`` deployment does every minute."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import stripe
from sqlalchemy import Engine

from paywindow.clock import Clock
from paywindow.inbox.backstop import backstop
from paywindow.inbox.processor import process_due
from paywindow.payments.expiry import (
    DeadlineTimer,
    close_overdue,
    expire_stripe_sessions,
    refund_late_payments,
)

__all__ = ["enforce_windows"]


def enforce_windows(
    engine: Engine,
    client: stripe.StripeClient,
    clock: Clock,
    *,
    horizon: float = 60.0,
    sleep: Any = time.sleep,
) -> dict[str, Any]:
    """Backstop, close overdue windows, close each upcoming one on time, then tell Stripe
    and refund late payments. Returns counts and the lateness of each timed close."""
    synced = backstop(engine, client, clock.now())
    if synced:
        process_due(engine, clock.now())
    overdue = close_overdue(engine, clock.now())
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="expire-session") as stripe_pool:

        def tell_stripe(order_id: str) -> None:
            stripe_pool.submit(
                expire_stripe_sessions, engine, client, clock.now(), order_ids=[order_id]
            )

        timer = DeadlineTimer(engine, clock, sleep, on_closed=tell_stripe)
        timed = timer.run(clock.now() + timedelta(seconds=horizon))
    sessions = expire_stripe_sessions(engine, client, clock.now())
    refunded = refund_late_payments(engine, client, clock.now())
    lateness = [(closed - deadline).total_seconds() for _, deadline, closed in timed]
    return {
        "backstop_events": synced,
        "closed_overdue": len(overdue),
        "closed_on_time": len(timed),
        "max_lateness_s": max(lateness, default=0.0),
        "sessions_expired": sessions,
        "late_refunds": len(refunded),
    }
