"""What a receipt or credit note says: plain, picklable values handed to the renderer.

Every amount is a :class:`~paywindow.money.Money` in the document's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

from paywindow.money import Money

__all__ = ["Line", "PaymentMethod", "ReceiptDocument"]


@dataclass(frozen=True, slots=True)
class Line:
    """One item: ``amount`` is ``unit_amount`` times ``quantity``; ``tax_amount`` its tax."""

    name: str
    quantity: int
    unit_amount: Money
    amount: Money
    tax_amount: Money


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    method_type: str
    brand: str | None = None
    last4: str | None = None

    @property
    def label(self) -> str:
        name = (self.brand or self.method_type.replace("_", " ")).title()
        if self.method_type == "us_bank_account" and self.brand:
            name = self.brand.title()
        return f"{name} •••• {self.last4}" if self.last4 else name


@dataclass(frozen=True)
class ReceiptDocument:
    """Everything printed on one document.

    ``kind`` is ``receipt`` or ``credit_note``. For a receipt ``amount`` is what was charged;
    for a credit note it is the amount this note refunds, ``refunded_total`` the order's
    refunds to date (None: none given), and ``original_number`` the receipt it corrects.
    Every amount is in ``currency``.
    """

    kind: str
    number: str
    version: int
    issued_at: datetime
    order_id: str
    currency: str
    locale: str
    buyer_email: str | None
    buyer_id: str
    seller_name: str
    seller_account: str
    lines: tuple[Line, ...]
    subtotal: Money
    tax_total: Money
    tax_included: bool
    total: Money
    amount: Money
    paid_at: datetime | None
    charge: str | None
    payment_method: PaymentMethod | None
    platform_name: str
    legal_footer: str
    original_number: str | None = None
    refunded_total: Money | None = None
    refund_ids: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        amounts = [getattr(self, f.name) for f in fields(self)]
        amounts += [getattr(line, f.name) for line in self.lines for f in fields(line)]
        for value in amounts:
            if isinstance(value, Money) and value.currency != self.currency.lower():
                raise ValueError(f"{self.number}: {value} is not in {self.currency}")
