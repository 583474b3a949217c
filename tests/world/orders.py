"""Orders in a bare store, as the processor makes them: real Stripe event payloads (the
factories), applied by the real processor; no sandbox. For receipts and other readers of a paid
order that need no Stripe round trip."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, update

from paywindow.payments.repository import NewOrder, create_order
from paywindow.store.tables import order_items, orders
from tests import factories as f
from tests.payments.helpers import apply


def pay_order(
    engine: Engine,
    order_id: str,
    *,
    currency: str = "usd",
    locale: str | None = "en_US",
    items: list[tuple[str, int, int, int]] | None = None,
    seller_name: str | None = "Vinyl & Co.",
    brand: str = "visa",
    last4: str = "4242",
) -> int:
    """Open, then pay an order; ``items`` are (name, unit_amount, quantity, tax); returns total."""
    items = items or [("Signed vinyl", 2500, 1, 0)]
    total = sum(unit * qty for _, unit, qty, _ in items)
    place_order(
        engine, order_id, currency=currency, locale=locale, items=items, seller_name=seller_name
    )
    pi = f.payment_intent(
        order_id,
        status="succeeded",
        amount=total,
        amount_received=total,
        currency=currency,
        latest_charge=f"ch_{order_id}_1",
    )
    charge = f.charge(
        order_id,
        amount=total,
        amount_captured=total,
        currency=currency,
        payment_method_details={"type": "card", "card": {"brand": brand, "last4": last4}},
    )
    apply(engine, f.event("payment_intent.succeeded", pi), f.event("charge.succeeded", charge))
    return total


def place_order(
    engine: Engine,
    order_id: str,
    *,
    currency: str = "usd",
    locale: str | None = "en_US",
    items: list[tuple[str, int, int, int]] | None = None,
    seller_name: str | None = "Vinyl & Co.",
) -> None:
    """Open an order with ``items`` (name, unit_amount, quantity, tax), not paid."""
    items = items or [("Signed vinyl", 2500, 1, 0)]
    total = sum(unit * qty for _, unit, qty, _ in items)
    with engine.begin() as conn:
        create_order(
            conn,
            NewOrder(
                id=order_id,
                currency=currency,
                amount_total=total,
                application_fee_amount=total // 10,
                seller_account="acct_seller",
                buyer_id="u_9",
                buyer_email="ana@example.com",
                deadline=f.NOW + timedelta(hours=24),
            ),
            f.NOW,
        )
        f.plan_attempt(conn, order_id)
        conn.execute(
            update(orders)
            .where(orders.c.id == order_id)
            .values(locale=locale, seller_name=seller_name)
        )
        conn.execute(
            order_items.insert(),
            [
                {
                    "order_id": order_id,
                    "position": n,
                    "name": name,
                    "unit_amount": unit,
                    "quantity": qty,
                    "tax_amount": tax,
                }
                for n, (name, unit, qty, tax) in enumerate(items)
            ],
        )


def refund_order(engine: Engine, order_id: str, refunded: int, total: int, refund_id: str) -> None:
    """Apply ``charge.refunded`` with ``refunded`` of ``total`` refunded to date."""
    charge = f.charge(
        order_id,
        amount=total,
        amount_captured=total,
        amount_refunded=refunded,
        refunded=refunded == total,
        refunds={"object": "list", "data": [{"id": refund_id, "object": "refund"}]},
        payment_method_details={"type": "card", "card": {"brand": "visa", "last4": "4242"}},
    )
    apply(engine, f.event("charge.refunded", charge))
