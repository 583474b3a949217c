"""Orders and their checkout: open an order, keep exactly one usable session, show it.

Design:
- An order is inserted with its deadline (now + window) before Stripe is called. The attempt
  row is *planned* (number and ``expires_at``) in the database before the session is created,
  and the session is created with an idempotency key per order and attempt: a retry after a
  timeout or a 503 sends the very same request and gets the very same session, so one order
  never has two open sessions.
- If Stripe refuses a brand-new order (bad seller account, ...), the order is removed so the
  caller can fix the request and send it again; if Stripe is unavailable it stays, and the
  same request later completes it.
- Reads never wait for the expiry flow: past its deadline an unpaid order reads as expired.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import stripe
from sqlalchemy import Connection, Engine, delete, select, update

from paywindow.errors import Conflict, GatewayRejected, NotFound
from paywindow.gateway.checkout import (
    CheckoutLine,
    CheckoutRequest,
    create_session,
    expire_session,
    retrieve_session,
    with_retries,
)
from paywindow.money import Money
from paywindow.observability import metrics, stopwatch
from paywindow.payments.apply import apply_change
from paywindow.payments.facts import AttemptChannel, AttemptStatus, Change
from paywindow.payments.lease import Lease, new_holder, order_lease
from paywindow.payments.repository import NewOrder, create_order
from paywindow.payments.states import OrderState
from paywindow.payments.window import (
    OPEN_STATES,
    effective_state,
    seconds_remaining,
    session_expires_at,
)
from paywindow.store.tables import attempts, order_items, orders

__all__ = [
    "CheckoutPolicy",
    "LineItem",
    "OrderRequest",
    "checkout_request",
    "close_open_sessions",
    "ensure_checkout",
    "open_order",
    "order_view",
]

#: A session about to end is not handed out again; a new one is created instead.
_REUSE_MARGIN = timedelta(seconds=60)
#: How long a checkout call waits for another one on the same order (then 409).
_CHECKOUT_WAIT = 15.0
#: PaymentIntent statuses that mean the buyer has paid or is paying.
_PAYING = frozenset({"succeeded", "processing", "requires_capture"})


class _Seen(StrEnum):
    """What Stripe says of an attempt's session (:func:`_at_stripe`)."""

    PAYING = "paying"  # complete, or its PaymentIntent succeeded or is processing
    EXPIRED = "expired"
    OPEN = "open"


@dataclass(frozen=True)
class LineItem:
    """One line of an order; amounts are integer minor units of the order's currency."""

    name: str
    unit_amount: int
    quantity: int
    tax_amount: int = 0

    def unit_price(self, currency: str) -> Money:
        return Money(self.unit_amount, currency)

    def total(self, currency: str) -> Money:
        """The unit price times the quantity, plus tax, in ``currency`` (the order's)."""
        return self.unit_price(currency).times(self.quantity) + Money(self.tax_amount, currency)


@dataclass(frozen=True)
class OrderRequest:
    """An order as the marketplace app sends it (already validated).

    Amounts stay integer minor units (the database's and the wire's form, and what the
    fingerprint hashes); :attr:`total` and :attr:`application_fee` are the same amounts as
    :class:`~paywindow.money.Money` in the request's currency. Building a request checks them
    as Money: integers, never floats, and a currency code.
    """

    order_id: str
    buyer_id: str
    seller_account: str
    currency: str
    application_fee_amount: int
    lines: tuple[LineItem, ...]
    buyer_email: str | None = None
    customer: str | None = None
    locale: str | None = None
    seller_name: str | None = None

    def __post_init__(self) -> None:
        # every amount must make a Money in the request's currency (raises if not)
        for line in self.lines:
            line.total(self.currency)
        Money(self.application_fee_amount, self.currency)

    @property
    def total(self) -> Money:
        """What the buyer pays: the lines' totals, in the request's currency."""
        return Money.total((line.total(self.currency) for line in self.lines), self.currency)

    @property
    def application_fee(self) -> Money:
        return Money(self.application_fee_amount, self.currency)

    @property
    def amount_total(self) -> int:
        return self.total.amount

    def fingerprint(self) -> str:
        """Hash of the request: the same order id with another body is a conflict."""
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


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


def open_order(
    engine: Engine,
    client: stripe.StripeClient,
    request: OrderRequest,
    policy: CheckoutPolicy,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Open the order and its checkout; return its view and whether it was new.

    Idempotent on the order id: the same request returns the same order (finishing its
    checkout if an earlier call could not); a different request for the id is a Conflict.
    """
    with stopwatch() as took:
        lease = Lease(request.order_id, new_holder("checkout"), "checkout")
        created = _insert(engine, request, policy, now, lease)
        try:
            ensure_checkout(
                engine,
                client,
                request.order_id,
                policy,
                now,
                reopen=False,
                held=lease if created else None,
            )
        except GatewayRejected:
            if created:
                _remove(engine, request.order_id)
            raise
    metrics().distribution("checkout.latency_seconds", took[0], tags={"new": created})
    return order_view(engine, request.order_id, now), created


def _insert(
    engine: Engine, request: OrderRequest, policy: CheckoutPolicy, now: datetime, lease: Lease
) -> bool:
    """Insert the order, or find the same one: insert-or-read, never select-then-insert.

    The insert carries the request's fingerprint, so a concurrent identical request (which on
    PostgreSQL waits on the unique key until the first commits) reads a complete order and
    gets the same answer; a different body for the id is a Conflict. A new order is inserted
    with ``lease`` held, so its first checkout needs no commit to take it.
    """
    fingerprint = request.fingerprint()
    order = NewOrder(
        id=request.order_id,
        currency=request.currency,
        amount_total=request.amount_total,
        application_fee_amount=request.application_fee_amount,
        seller_account=request.seller_account,
        buyer_id=request.buyer_id,
        buyer_email=request.buyer_email,
        customer=request.customer,
        deadline=now + policy.window,
        request_hash=fingerprint,
        locale=request.locale,
        seller_name=request.seller_name,
    )
    with engine.begin() as conn:
        if create_order(conn, order, now):
            conn.execute(order_items.insert(), _item_rows(request))
            conn.execute(update(orders).where(orders.c.id == order.id).values(**lease.values(now)))
            return True
        existing = conn.execute(
            select(orders.c.request_hash).where(orders.c.id == request.order_id)
        ).scalar()
    if existing != fingerprint:
        raise Conflict(f"order {request.order_id} exists with a different request")
    return False


def _item_rows(request: OrderRequest) -> list[dict[str, Any]]:
    return [
        {
            "order_id": request.order_id,
            "position": n,
            "name": line.name,
            "unit_amount": line.unit_amount,
            "quantity": line.quantity,
            "tax_amount": line.tax_amount,
        }
        for n, line in enumerate(request.lines)
    ]


def _remove(engine: Engine, order_id: str) -> None:
    from paywindow.store.tables import order_transitions, outbox

    with engine.begin() as conn:
        for table in (order_items, attempts, order_transitions, outbox):
            conn.execute(delete(table).where(table.c.order_id == order_id))
        conn.execute(delete(orders).where(orders.c.id == order_id))


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
        order, latest = _order_and_latest(conn, order_id)
    state = effective_state(OrderState(order["state"]), order["deadline"], now)
    if state not in OPEN_STATES:
        if reopen:
            raise Conflict(f"order {order_id} is {state.value}: checkout cannot be reopened")
        return
    if _usable(latest, now):
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


def _usable(latest: dict[str, Any] | None, now: datetime) -> bool:
    return (
        latest is not None
        and latest["session_id"] is not None
        and latest["status"] == AttemptStatus.OPEN
        and latest["expires_at"] is not None
        and latest["expires_at"] > now + _REUSE_MARGIN
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


def _order_and_latest(
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


def order_view(engine: Engine, order_id: str, now: datetime) -> dict[str, Any]:
    """What the marketplace app sees: state, checkout link, deadline and a synced countdown."""
    with engine.connect().execution_options(read_only=True) as conn:
        order, latest = _order_and_latest(conn, order_id)
        rows = conn.execute(
            select(attempts).where(attempts.c.order_id == order_id).order_by(attempts.c.attempt)
        ).mappings()
        attempt_list = [
            {
                "attempt": a["attempt"],
                "session_id": a["session_id"],
                "status": a["status"],
                "channel": a["channel"] or AttemptChannel.CHECKOUT.value,
                "expires_at": a["expires_at"].isoformat() if a["expires_at"] else None,
            }
            for a in rows
        ]
    state = effective_state(OrderState(order["state"]), order["deadline"], now)
    open_session = state in OPEN_STATES and _usable(latest, now - _REUSE_MARGIN)
    return {
        "order_id": order["id"],
        "state": state.value,
        "checkout_url": latest["url"] if open_session and latest else None,
        "session_id": latest["session_id"] if latest else None,
        "deadline": order["deadline"].isoformat(),
        "server_time": now.isoformat(),
        "seconds_remaining": seconds_remaining(order["deadline"], now)
        if state in OPEN_STATES or state is OrderState.PROCESSING
        else 0,
        "currency": order["currency"],
        "amount_total": order["amount_total"],
        "application_fee_amount": order["application_fee_amount"],
        "attempts": attempt_list,
        "receipt_url": None,
    }
