"""Orders: what the marketplace asks for, opening one with its checkout, and how it reads.

Design:
- An order is inserted with its deadline (now + window) before Stripe is called, holding the
  order lease in the same insert; :mod:`paywindow.payments.checkout` then opens its session.
- Opening is idempotent on the order id: the same request returns the same order (finishing
  its checkout if an earlier call could not); a different request for the id is a Conflict.
- If Stripe refuses a brand-new order (bad seller account, ...), the order is removed so the
  caller can fix the request and send it again; if Stripe is unavailable it stays, and the
  same request later completes it.
- Reads never wait for the expiry flow: past its deadline an unpaid order reads as expired.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import stripe
from sqlalchemy import Engine, delete, select, update

from paywindow.errors import Conflict, GatewayRejected
from paywindow.money import Money
from paywindow.observability import metrics, stopwatch
from paywindow.payments.checkout import (
    REUSE_MARGIN,
    CheckoutPolicy,
    ensure_checkout,
    order_and_latest,
    usable,
)
from paywindow.payments.facts import AttemptChannel
from paywindow.payments.lease import Lease, new_holder
from paywindow.payments.repository import NewOrder, create_order
from paywindow.payments.states import OrderState
from paywindow.payments.window import OPEN_STATES, effective_state, seconds_remaining
from paywindow.store.tables import attempts, order_items, orders

__all__ = ["LineItem", "OrderRequest", "open_order", "order_view"]


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


def order_view(engine: Engine, order_id: str, now: datetime) -> dict[str, Any]:
    """What the marketplace app sees: state, checkout link, deadline and a synced countdown."""
    with engine.connect().execution_options(read_only=True) as conn:
        order, latest = order_and_latest(conn, order_id)
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
    open_session = state in OPEN_STATES and usable(latest, now - REUSE_MARGIN)
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
