"""The 24-hour payment window: pure rules about deadlines and Checkout Session lifetimes."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from paywindow.payments.states import OrderState

__all__ = [
    "OPEN_STATES",
    "STRIPE_MAX_LIFETIME",
    "STRIPE_MIN_LIFETIME",
    "effective_state",
    "seconds_remaining",
    "session_expires_at",
]

#: Stripe accepts ``expires_at`` from 30 minutes to (strictly less than) 24 hours ahead.
STRIPE_MIN_LIFETIME = timedelta(minutes=30)
STRIPE_MAX_LIFETIME = timedelta(hours=24)
#: Kept above Stripe's minimum so clock skew between us and Stripe never trips it.
_MIN_SAFETY = timedelta(seconds=60)

#: States in which the buyer can still pay: the window applies to them.
OPEN_STATES = frozenset({OrderState.AWAITING_PAYMENT, OrderState.PAYMENT_FAILED})


def session_expires_at(now: datetime, deadline: datetime, margin: timedelta) -> datetime:
    """When a session created at ``now`` should end: at the deadline if Stripe allows it.

    ``min(deadline, now + 24 h - margin)``, but never under ``now + 30 min`` (plus a minute of
    safety): a session opened in the window's last half hour outlives the deadline, and the
    expiry flow ends it through the API exactly at the deadline. Whole seconds, as Stripe.
    """
    end = min(deadline, now + STRIPE_MAX_LIFETIME - margin)
    end = max(end, now + STRIPE_MIN_LIFETIME + _MIN_SAFETY)
    return end.replace(microsecond=0)


def effective_state(state: OrderState, deadline: datetime, now: datetime) -> OrderState:
    """The state a reader should see: past its deadline an unpaid order is expired at once,
    even if the expiry flow has not written it yet."""
    if state in OPEN_STATES and now >= deadline:
        return OrderState.EXPIRED
    return state


def seconds_remaining(deadline: datetime, now: datetime) -> int:
    """Whole seconds left before the deadline (0 once it has passed), for the app's countdown."""
    return max(0, math.floor((deadline - now).total_seconds()))
