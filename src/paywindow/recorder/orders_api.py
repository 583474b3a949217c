"""The order API the marketplace app calls (bearer token): open orders, read them, reopen
checkout. Thin: validation here, the work in :mod:`paywindow.payments.orders`."""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

import stripe
from babel.numbers import list_currencies
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator
from sqlalchemy import Engine

from paywindow.clock import Clock
from paywindow.errors import (
    Conflict,
    GatewayRejected,
    GatewayUnavailable,
    InvalidRequest,
    NotFound,
)
from paywindow.payments.orders import (
    CheckoutPolicy,
    LineItem,
    OrderRequest,
    ensure_checkout,
    open_order,
    order_view,
)

__all__ = ["OrdersService", "install_orders_api"]

_CURRENCIES = frozenset(code.lower() for code in list_currencies())
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")
_STRIPE_FIELDS = {
    "payment_intent_data[transfer_data][destination]": "seller_account",
    "payment_intent_data[application_fee_amount]": "application_fee_amount",
    "customer": "buyer.customer",
    "customer_email": "buyer.email",
    "currency": "currency",
    "locale": "locale",
}


@dataclass
class OrdersService:
    """What the order API needs; ``client`` is None when no Stripe key is configured."""

    engine: Engine
    client: stripe.StripeClient | None
    policy: CheckoutPolicy
    clock: Clock
    token: str | None
    max_body: int = 64 * 1024
    receipts: Any | None = None  # a paywindow.receipts.service.ReceiptService


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
    order_id: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")
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
        total = sum(line.unit_amount * line.quantity for line in self.line_items)
        if self.amount_total is not None and self.amount_total != total:
            raise InvalidRequest(
                f"amount_total {self.amount_total} does not match the line items ({total})",
                "amount_total",
            )
        if self.application_fee_amount > total:
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


def _service(request: Request) -> OrdersService:
    service: OrdersService = request.app.state.orders
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    expected = service.token
    if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(token, expected):
        raise _Unauthorized()
    return service


class _Unauthorized(Exception):
    pass


class _NoReceipts(Exception):
    pass


def _receipts(request: Request) -> None:
    """Auth for the receipt route, and hand it the receipt service (set on the app state)."""
    service = _service(request)
    if service.receipts is None:
        raise _NoReceipts()
    request.app.state.receipts = service.receipts
    request.app.state.clock = service.clock


Service = Annotated[OrdersService, Depends(_service)]

router = APIRouter(prefix="/v1/orders")


def _client(service: OrdersService) -> stripe.StripeClient:
    if service.client is None:
        raise GatewayUnavailable("Stripe is not configured (PAYWINDOW_STRIPE_API_KEY)")
    return service.client


@router.post("")
def create_order(body: OrderIn, service: Service) -> JSONResponse:
    """Open an order and its Checkout Session (idempotent on ``order_id``)."""
    now = service.clock.now()
    view, created = open_order(
        service.engine, _client(service), body.to_request(), service.policy, now
    )
    return JSONResponse(view, status_code=201 if created else 200)


@router.get("/{order_id}")
def get_order(order_id: str, service: Service) -> dict[str, Any]:
    """State, deadline, server time and seconds remaining, attempts, receipt link."""
    return _view(service, order_id)


@router.post("/{order_id}/checkout")
def reopen_checkout(order_id: str, service: Service) -> dict[str, Any]:
    """The buyer reopened the webview: the open session if still valid, else a new one."""
    ensure_checkout(service.engine, _client(service), order_id, service.policy, service.clock.now())
    return _view(service, order_id)


def _view(service: OrdersService, order_id: str) -> dict[str, Any]:
    now = service.clock.now()
    view = order_view(service.engine, order_id, now)
    if service.receipts is not None and view["state"] not in _UNPAID:
        try:
            status, links = service.receipts.links(order_id, now)
        except Exception:  # the receipt link is a convenience here; its own route reports errors
            status, links = "unavailable", []
        if status == "ready" and links:
            view["receipt_url"] = links[0].url
    return view


_UNPAID = frozenset({"awaiting_payment", "payment_failed", "processing", "expired"})


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return _error(400, "malformed_json", "the body is not valid JSON")
    ctx_error = (first.get("ctx") or {}).get("error")
    if isinstance(ctx_error, InvalidRequest):
        return _error(422, "invalid_request", ctx_error.message, ctx_error.field)
    field = _field(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return _error(422, "invalid_request", f"{field}: {message}" if field else message, field)


def _handlers() -> dict[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]]:
    async def unauthorized(_r: Request, _e: Exception) -> JSONResponse:
        return _error(401, "unauthorized", "missing or wrong bearer token")

    async def no_receipts(_r: Request, _e: Exception) -> JSONResponse:
        return _error(503, "receipts_unavailable", "no receipt store is configured")

    async def not_found(_r: Request, e: Exception) -> JSONResponse:
        return _error(404, "not_found", str(e))

    async def conflict(_r: Request, e: Exception) -> JSONResponse:
        return _error(409, "conflict", str(e))

    async def invalid(_r: Request, e: Exception) -> JSONResponse:
        assert isinstance(e, InvalidRequest)
        return _error(422, "invalid_request", e.message, e.field)

    async def rejected(_r: Request, e: Exception) -> JSONResponse:
        assert isinstance(e, GatewayRejected)
        field = _STRIPE_FIELDS.get(e.param or "", e.param)
        status = 422 if (e.http_status or 400) < 500 else 502
        return _error(status, "stripe_rejected", e.message, field)

    async def unavailable(_r: Request, e: Exception) -> JSONResponse:
        return _error(503, "stripe_unavailable", f"Stripe is unavailable, retry later: {e}")

    return {
        RequestValidationError: _validation,
        _Unauthorized: unauthorized,
        _NoReceipts: no_receipts,
        NotFound: not_found,
        Conflict: conflict,
        InvalidRequest: invalid,
        GatewayRejected: rejected,
        GatewayUnavailable: unavailable,
    }


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


def install_orders_api(app: FastAPI, service: OrdersService) -> None:
    """Mount the order API on ``app`` with its error handlers and body-size limit."""
    from paywindow.payments.retry_api import router as retry_router
    from paywindow.receipts.api import router as receipts_router

    app.state.orders = service
    app.include_router(router)
    app.include_router(retry_router, dependencies=[Depends(_service)])
    app.include_router(receipts_router, dependencies=[Depends(_receipts)])
    for exc_type, handler in _handlers().items():
        app.add_exception_handler(exc_type, handler)
    app.add_middleware(_BodyLimit, limit=service.max_body)


class _BodyLimit:
    """413 for an order-API body over the limit, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _reject_too_large(send, self.limit)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise InvalidRequest(f"body larger than {self.limit} bytes", "body")
            return message

        await self.app(scope, limited, send)


async def _reject_too_large(send: Any, limit: int) -> None:
    response = _error(413, "too_large", f"body larger than {limit} bytes")
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": response.body})
