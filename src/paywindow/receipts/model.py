"""What a receipt or credit note says: plain, picklable values handed to the renderer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Line", "PaymentMethod", "ReceiptDocument"]


@dataclass(frozen=True, slots=True)
class Line:
    """One item: amounts in minor units of the document's currency."""

    name: str
    quantity: int
    unit_amount: int
    amount: int
    tax_amount: int = 0


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
    refunds to date, and ``original_number`` the receipt it corrects.
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
    subtotal: int
    tax_total: int
    tax_included: bool
    total: int
    amount: int
    paid_at: datetime | None
    charge: str | None
    payment_method: PaymentMethod | None
    platform_name: str
    legal_footer: str
    original_number: str | None = None
    refunded_total: int = 0
    refund_ids: tuple[str, ...] = field(default_factory=tuple)
