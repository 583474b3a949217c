"""Checkout: keep exactly one usable Checkout Session per order, under the order's lease.

Design:
- The attempt row is *planned* (number and ``expires_at``) in the database before the session
  is created, and the session is created with an idempotency key per order and attempt: a
  retry after a timeout or a 503 sends the very same request and gets the very same session,
  so one order never has two open sessions.
- Before a new session is opened (reopen, a retry link, an off-session charge), Stripe is asked
  about the earlier one: a session it says is complete is recorded at once (a late webhook)
  and nothing else is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import stripe
from sqlalchemy import Connection, Engine, select, update

from paywindow.errors import Conflict, NotFound
from paywindow.gateway.checkout import (
    CheckoutLine,
    CheckoutRequest,
    create_session,
    expire_session,
    retrieve_session,
    with_retries,
)
from paywindow.observability import metrics, stopwatch
from paywindow.payments.apply import apply_change
from paywindow.payments.facts import AttemptChannel, AttemptStatus, Change
from paywindow.payments.lease import Lease, order_lease
from paywindow.payments.states import OrderState
from paywindow.payments.window import (
    OPEN_STATES,
    effective_state,
    session_expires_at,
)
from paywindow.store.tables import attempts, order_items, orders

__all__ = [
    "REUSE_MARGIN",
    "CheckoutPolicy",
    "checkout_request",
    "close_open_sessions",
    "ensure_checkout",
    "order_and_latest",
    "usable",
]

#: A session about to end is not handed out again; a new one is created instead.
REUSE_MARGIN = timedelta(seconds=60)
#: How long a checkout call waits for another one on the same order (then 409).
_CHECKOUT_WAIT = 15.0
#: PaymentIntent statuses that mean the buyer has paid or is paying.
_PAYING = frozenset({"succeeded", "processing", "requires_capture"})


class _Seen(StrEnum):
    """What Stripe says of an attempt's session (:func:`_at_stripe`)."""

    PAYING = "paying"  # complete, or its PaymentIntent succeeded or is processing
    EXPIRED = "expired"
    OPEN = "open"


#: Records what Stripe says of a complete session as an event and applies it at once
#: (``paywindow.inbox.record_session``); returns the event id.
RecordSession = Callable[[Engine, dict[str, Any], datetime], object]


@dataclass(frozen=True)
class CheckoutPolicy:
    window: timedelta
    margin: timedelta
    success_url: str
    cancel_url: str
    #: how a session found complete at Stripe (a late webhook) is recorded
    record_session: RecordSession


def ensure_checkout(
    engine: Engine,
    client: stripe.StripeClient,
    order_id: str,
    policy: CheckoutPolicy,
    now: datetime,
    *,
    reopen: bool = True,
    held: Lease | None = None,
) -> None:
    """Make sure the order has one usable open session, creating it if needed.

    ``reopen`` is the buyer coming back to the webview: an order that can no longer be paid
    is a Conflict then, while opening a new order just leaves it as it is. Runs under the
    order's lease (concurrent callers wait for it, then find the session it made), and
    never opens a new session while Stripe says the buyer has already paid the current one.
    """
    with order_lease(engine, order_id, "checkout", now, wait=_CHECKOUT_WAIT, held=held) as lease:
        _ensure_checkout(engine, client, order_id, policy, now, reopen=reopen, lease=lease)


def _ensure_checkout(
    engine: Engine,
    client: stripe.StripeClient,
    order_id: str,
    policy: CheckoutPolicy,
    now: datetime,
    *,
    reopen: bool,
    lease: Lease,
) -> None:
    with engine.connect().execution_options(read_only=True) as conn:
        order, latest = order_and_latest(conn, order_id)
    state = effective_state(OrderState(order["state"]), order["deadline"], now)
    if state not in OPEN_STATES:
        if reopen:
            raise Conflict(f"order {order_id} is {state.value}: checkout cannot be reopened")
        return
    if usable(latest, now):
        assert latest is not None
        if not reopen or _at_stripe(engine, client, order_id, latest, now, policy) != _Seen.EXPIRED:
            return  # open (hand it back), or paid or paying (the view says so)
    elif (
        latest is not None
        and latest["session_id"] is not None
        and _at_stripe(engine, client, order_id, latest, now, policy, expire=True) is _Seen.PAYING
    ):
        return
    if latest is not None and latest["session_id"] is None and _still_creatable(latest, now):
        number, expires_at = latest["attempt"], latest["expires_at"]
    else:
        number = (latest["attempt"] + 1) if latest is not None else 1
        expires_at = session_expires_at(now, order["deadline"], policy.margin)
        _plan_attempt(engine, order_id, number, expires_at, now)
    request = checkout_request(engine, order, number, expires_at, policy)
    with stopwatch() as took:
        session = with_retries(lambda: create_session(client, request))
    metrics().distribution(
        "checkout.stripe_latency_seconds", took[0], tags={"first_attempt": number == 1}
    )
    with engine.begin() as conn:
        change = Change(attempt=number, session_id=session.id, expires_at=session.expires_at)
        apply_change(conn, order_id, change, now=now, event_id=None)
        conn.execute(
            update(attempts)
            .where(attempts.c.order_id == order_id, attempts.c.attempt == number)
            .values(url=session.url, channel=AttemptChannel.CHECKOUT)
        )
        lease.release_in(conn)
    lease.released = True


def usable(latest: dict[str, Any] | None, now: datetime) -> bool:
    return (
        latest is not None
        and latest["session_id"] is not None
        and latest["status"] == AttemptStatus.OPEN
        and latest["expires_at"] is not None
        and latest["expires_at"] > now + REUSE_MARGIN
    )


def _still_creatable(latest: dict[str, Any], now: datetime) -> bool:
    """A planned attempt whose create may be retried as is (Stripe needs >= 30 min left)."""
    expires = latest["expires_at"]
    return expires is not None and expires - now > timedelta(minutes=30)


def _plan_attempt(
    engine: Engine, order_id: str, number: int, expires_at: datetime, now: datetime
) -> None:
    change = Change(attempt=number, expires_at=expires_at, attempt_status=AttemptStatus.OPEN)
    with engine.begin() as conn:
        apply_change(conn, order_id, change, now=now, event_id=None)


def _at_stripe(
    engine: Engine,
    client: stripe.StripeClient,
    order_id: str,
    latest: dict[str, Any],
    now: datetime,
    policy: CheckoutPolicy,
    *,
    expire: bool = False,
) -> _Seen:
    """What Stripe says of the attempt's session (expiring it first when ``expire``):
    ``paying``, ``expired`` or ``open``.

    ``paying`` (complete, or its PaymentIntent succeeded or processing) is recorded through
    the inbox at once, and no other session may be opened then: the buyer has paid or is
    paying this one. ``expired`` is marked on the attempt, so a new session can be opened.
    """
    if expire:
        with_retries(lambda: expire_session(client, latest["session_id"]))
    session = with_retries(lambda: retrieve_session(client, latest["session_id"]))
    intent = session.get("payment_intent")
    if session.get("status") == "complete":
        policy.record_session(engine, session, now)
        return _Seen.PAYING
    if isinstance(intent, dict) and intent.get("status") in _PAYING:
        return _Seen.PAYING
    if session.get("status") == "expired":
        change = Change(attempt=latest["attempt"], attempt_status=AttemptStatus.EXPIRED)
        with engine.begin() as conn:
            apply_change(conn, order_id, change, now=now, event_id=None)
        return _Seen.EXPIRED
    return _Seen.OPEN


def close_open_sessions(
    engine: Engine,
    client: stripe.StripeClient,
    order_id: str,
    policy: CheckoutPolicy,
    *,
    below: int,
    now: datetime,
) -> bool:
    """Expire at Stripe every session of the order's attempts before ``below`` that we think
    is open; True if Stripe says the buyer paid or is paying one (recorded, nothing else may
    be charged). Call it under the order's lease."""
    query = select(attempts).where(
        attempts.c.order_id == order_id,
        attempts.c.attempt < below,
        attempts.c.session_id.is_not(None),
        attempts.c.status == AttemptStatus.OPEN,
    )
    with engine.connect().execution_options(read_only=True) as conn:
        open_rows = [dict(row) for row in conn.execute(query).mappings()]
    paying = False
    for row in open_rows:
        seen = _at_stripe(engine, client, order_id, row, now, policy, expire=True)
        paying |= seen is _Seen.PAYING
    return paying


def checkout_request(
    engine: Engine,
    order: dict[str, Any],
    number: int,
    expires_at: datetime,
    policy: CheckoutPolicy,
) -> CheckoutRequest:
    """The Checkout Session request for attempt ``number`` of ``order`` (an orders row)."""
    with engine.connect().execution_options(read_only=True) as conn:
        items = conn.execute(
            select(order_items)
            .where(order_items.c.order_id == order["id"])
            .order_by(order_items.c.position)
        ).mappings()
        lines = tuple(
            CheckoutLine(
                name=item["name"],
                unit_amount=item["unit_amount"],
                quantity=item["quantity"],
            )
            for item in items
        )
    return CheckoutRequest(
        order_id=order["id"],
        attempt=number,
        currency=order["currency"],
        lines=lines,
        application_fee_amount=order["application_fee_amount"],
        seller_account=order["seller_account"],
        expires_at=expires_at,
        success_url=policy.success_url,
        cancel_url=policy.cancel_url,
        customer=order["customer"],
        customer_email=order["buyer_email"],
        locale=order["locale"],
    )


def order_and_latest(
    conn: Connection, order_id: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    order = conn.execute(select(orders).where(orders.c.id == order_id)).mappings().first()
    if order is None:
        raise NotFound(f"no order {order_id}")
    latest = (
        conn.execute(
            select(attempts)
            .where(attempts.c.order_id == order_id)
            .order_by(attempts.c.attempt.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(order), dict(latest) if latest is not None else None
