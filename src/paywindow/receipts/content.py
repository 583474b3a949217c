"""Gathering a document's content from the database (and, when no event carried the payment
method, from Stripe through a lookup the caller passes in).

The payment method and refund ids come from the charge as recorded in ``event_log``
(``charge.succeeded`` / ``charge.refunded`` carry ``payment_method_details``), so rendering
needs no network call in the normal case.

Tax: ``order_items.tax_amount`` is the tax of a line. If the items plus their tax add up to
the order total, tax was charged on top (shown as added lines); otherwise it is taken to be
included in the item prices (shown as "incl.").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from paywindow.errors import NotFound, PaywindowError
from paywindow.gateway.charges import ChargeDetails, charge_details
from paywindow.money import Money
from paywindow.receipts.model import Line, PaymentMethod, ReceiptDocument
from paywindow.store.tables import event_log, order_items, orders, receipts

__all__ = ["ChargeLookup", "Platform", "load_document"]

ChargeLookup = Callable[[str], ChargeDetails | None]


class Platform:
    """The platform's name and legal footer, printed on every document."""

    def __init__(self, name: str, legal_footer: str) -> None:
        self.name = name
        self.legal_footer = legal_footer


def load_document(
    conn: Connection,
    receipt_id: int,
    platform: Platform,
    *,
    charge_lookup: ChargeLookup | None = None,
) -> ReceiptDocument:
    """The content of receipt row ``receipt_id`` at its target version."""
    row = conn.execute(select(receipts).where(receipts.c.id == receipt_id)).mappings().first()
    if row is None:
        raise NotFound(f"no receipt {receipt_id}")
    order = conn.execute(select(orders).where(orders.c.id == row["order_id"])).mappings().one()
    if order["paid_at"] is None:
        raise PaywindowError(f"order {order['id']} is not paid: no receipt")
    currency = order["currency"]
    lines = _lines(conn, order)
    subtotal = sum((line.amount for line in lines), Money(0, currency))
    tax_total = sum((line.tax_amount for line in lines), Money(0, currency))
    total = Money(int(order["amount_charged"] or order["amount_total"]), currency)
    details = _charge(conn, order, charge_lookup)
    return ReceiptDocument(
        kind=row["kind"],
        number=row["number"],
        version=row["target_version"],
        issued_at=row["issued_at"],
        order_id=order["id"],
        currency=currency,
        locale=order["locale"] or "en_US",
        buyer_email=order["buyer_email"],
        buyer_id=order["buyer_id"],
        seller_name=order["seller_name"] or order["seller_account"],
        seller_account=order["seller_account"],
        lines=lines,
        subtotal=subtotal,
        tax_total=tax_total,
        tax_included=subtotal + tax_total != total,
        total=total,
        amount=Money(row["amount"], currency),
        paid_at=order["paid_at"],
        charge=order["charge"],
        payment_method=_method(details),
        platform_name=platform.name,
        legal_footer=platform.legal_footer,
        original_number=row["original_number"],
        refunded_total=Money(row["refunded_to"], currency),
        refund_ids=details.refund_ids if details else (),
    )


def _lines(conn: Connection, order: Any) -> tuple[Line, ...]:
    rows = conn.execute(
        select(order_items)
        .where(order_items.c.order_id == order["id"])
        .order_by(order_items.c.position)
    ).mappings()
    currency = order["currency"]
    lines = tuple(
        Line(
            name=r["name"],
            quantity=r["quantity"],
            unit_amount=Money(r["unit_amount"], currency),
            amount=Money(r["unit_amount"], currency).times(r["quantity"]),
            tax_amount=Money(r["tax_amount"] or 0, currency),
        )
        for r in rows
    )
    if lines:
        return lines
    total = Money(int(order["amount_total"]), currency)
    return (Line(f"Order {order['id']}", 1, total, total, tax_amount=Money(0, currency)),)


def _charge(conn: Connection, order: Any, lookup: ChargeLookup | None) -> ChargeDetails | None:
    charge_id = order["charge"]
    if not charge_id:
        return None
    found: ChargeDetails | None = None
    bodies = conn.execute(
        select(event_log.c.body, event_log.c.created)
        .where(event_log.c.order_id == order["id"])
        .where(event_log.c.type.in_(["charge.succeeded", "charge.refunded", "charge.updated"]))
        .order_by(event_log.c.created)
    )
    for body, _created in bodies:
        obj = _object(body)
        if obj.get("id") == charge_id and obj.get("payment_method_details"):
            found = _merge(found, charge_details(obj))
    if found is None and lookup is not None:
        found = lookup(charge_id)
    return found


def _merge(old: ChargeDetails | None, new: ChargeDetails) -> ChargeDetails:
    if old is None:
        return new
    refunds = tuple(dict.fromkeys(old.refund_ids + new.refund_ids))
    return ChargeDetails(new.id, new.method_type, new.brand, new.last4, refunds)


def _object(body: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(body)["data"]["object"]
    except (ValueError, KeyError, TypeError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _method(details: ChargeDetails | None) -> PaymentMethod | None:
    if details is None:
        return None
    return PaymentMethod(details.method_type, details.brand, details.last4)
