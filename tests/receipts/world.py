"""Paid orders as the processor makes them: real Stripe event payloads, applied for real."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from pypdf import PdfReader
from sqlalchemy import Engine, update

from paywindow.payments.repository import NewOrder, create_order
from paywindow.receipts.service import ReceiptService
from paywindow.store.tables import order_items, orders
from tests import factories as f
from tests.payments.helpers import apply


def paid_order(
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
    unpaid_order(
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


def unpaid_order(
    engine: Engine,
    order_id: str,
    *,
    currency: str = "usd",
    locale: str | None = "en_US",
    items: list[tuple[str, int, int, int]] | None = None,
    seller_name: str | None = "Vinyl & Co.",
) -> None:
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


def refund(engine: Engine, order_id: str, refunded: int, total: int, refund_id: str) -> None:
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


def pdf_text(service: ReceiptService, row: dict[str, Any], version_id: str | None = None) -> str:
    body = service.store.get(row["object_key"], version_id or row["version_id"])
    assert body.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    return text.replace("\xa0", " ").replace("\u202f", " ")
