"""The order API's request body: strict models that refuse what no order can hold.

Unknown fields, floats for amounts, unknown currencies and mismatched totals are refused; so
is any control character (C0, DEL, C1, NUL included) or lone surrogate in any string, which
no column, log line or Stripe field should carry. Each refusal names its field. The totals
are checked as the request computes them: :class:`~paywindow.money.Money` in the order's
currency (:attr:`OrderRequest.total`), while the body itself carries integer minor units.
"""

from __future__ import annotations

import re

from babel.numbers import list_currencies
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from paywindow.errors import InvalidRequest
from paywindow.payments.orders import LineItem, OrderRequest
from paywindow.web.orders_schema import ORDER_ID_PATTERN

__all__ = ["BuyerIn", "LineIn", "OrderIn"]

_CURRENCIES = frozenset(code.lower() for code in list_currencies())
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        if isinstance(value, str) and (found := _CONTROL.search(value)):
            raise ValueError(f"contains a control character (U+{ord(found.group()):04X})")
        return value


class BuyerIn(_Strict):
    id: str = Field(min_length=1, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    customer: str | None = Field(default=None, pattern=r"^cus_[A-Za-z0-9]+$")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("is not an email address")
        return value


class LineIn(_Strict):
    name: str = Field(min_length=1, max_length=250)
    unit_amount: StrictInt = Field(gt=0, le=99_999_999)
    quantity: StrictInt = Field(default=1, ge=1, le=1000)


class OrderIn(_Strict):
    order_id: str = Field(pattern=ORDER_ID_PATTERN)
    buyer: BuyerIn
    seller_account: str = Field(pattern=r"^acct_[A-Za-z0-9]{1,100}$")
    seller_name: str | None = Field(default=None, max_length=255)
    currency: str = Field(min_length=3, max_length=3)
    application_fee_amount: StrictInt = Field(ge=0)
    line_items: list[LineIn] = Field(min_length=1, max_length=100)
    amount_total: StrictInt | None = None
    locale: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value.lower() not in _CURRENCIES:
            raise ValueError(f"unknown currency {value!r}")
        return value.lower()

    @model_validator(mode="after")
    def _amounts(self) -> OrderIn:
        request = self.to_request()  # the amounts as Money in the order's currency
        total = request.total.amount
        if self.amount_total is not None and self.amount_total != total:
            raise InvalidRequest(
                f"amount_total {self.amount_total} does not match the line items ({total})",
                "amount_total",
            )
        if request.application_fee.amount > total:
            raise InvalidRequest(
                f"application_fee_amount {self.application_fee_amount} is larger than "
                f"the order amount {total}",
                "application_fee_amount",
            )
        return self

    def to_request(self) -> OrderRequest:
        return OrderRequest(
            order_id=self.order_id,
            buyer_id=self.buyer.id,
            buyer_email=self.buyer.email,
            customer=self.buyer.customer,
            seller_account=self.seller_account,
            seller_name=self.seller_name,
            currency=self.currency,
            application_fee_amount=self.application_fee_amount,
            lines=tuple(LineItem(li.name, li.unit_amount, li.quantity) for li in self.line_items),
            locale=self.locale,
        )
