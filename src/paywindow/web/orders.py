"""The order API the marketplace backend calls (bearer token): open orders, read them, reopen
checkout; support retries them. Thin: validation here, the work in
:mod:`paywindow.payments.checkout`.

Two credentials, compared as bytes in constant time: the app token (``PAYWINDOW_API_TOKEN``)
creates, reads and reopens orders and reads receipts; the support token
(``PAYWINDOW_SUPPORT_TOKEN``) reads orders and receipts and runs support actions (``/retry``);
the admin token (``PAYWINDOW_ADMIN_TOKEN``) manages notification endpoints and nothing else.
A missing or unknown token is 401; a known token on a route it may not call is 403. Nothing a
client sends reaches the database unless it could be valid: strings with control characters
are 422 naming the field, a path id that cannot exist is 404.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from paywindow.clock import Clock
from paywindow.errors import (
    ConfigError,
    GatewayUnavailable,
    NotFound,
)
from paywindow.notify.live import LiveConfig
from paywindow.payments.checkout import CheckoutPolicy, ensure_checkout
from paywindow.payments.orders import open_order, order_view
from paywindow.resources import Resources
from paywindow.retries import RetryPolicy
from paywindow.web.errors import Forbidden, ReceiptsNotConfigured, Unauthorized, error_response
from paywindow.web.orders_input import OrderIn
from paywindow.web.orders_schema import (
    ORDER_ID_PATTERN,
    OrderView,
    ReceiptPending,
    ReceiptView,
    RetryError,
    RetryView,
    errors,
    openapi_document,
)

__all__ = ["OrdersService", "install_orders_api"]

_ORDER_ID = re.compile(ORDER_ID_PATTERN)


@dataclass
class OrdersService:
    """What the order API needs; ``client`` is None when no Stripe key is configured.

    ``token`` is the marketplace app's credential, ``support_token`` support's and
    ``admin_token`` the operator's (notification endpoints); any may be None (its routes then
    answer 401), and they must differ. ``live`` paces the live-status streams.
    """

    engine: Engine
    client: stripe.StripeClient | None
    policy: CheckoutPolicy
    clock: Clock
    token: str | None
    support_token: str | None = None
    max_body: int = 64 * 1024
    receipts: Any | None = None  # a paywindow.receipts.service.ReceiptService
    #: the retry policy support's manual retry runs under (the settings'; default offsets if None)
    retries: RetryPolicy | None = None
    admin_token: str | None = None
    live: LiveConfig = field(default_factory=LiveConfig)

    @classmethod
    def from_resources(cls, res: Resources, clock: Clock) -> OrdersService:
        """The service ``serve`` runs: Stripe when a key is set, receipts when a store is."""
        configured = res.settings
        return cls(
            engine=res.engine,
            client=res.stripe if res.has_stripe else None,
            policy=res.checkout,
            clock=clock,
            token=configured.api_token.get_secret_value() if configured.api_token else None,
            support_token=(
                configured.support_token.get_secret_value() if configured.support_token else None
            ),
            admin_token=(
                configured.admin_token.get_secret_value() if configured.admin_token else None
            ),
            max_body=configured.api_max_body,
            receipts=res.receipts if res.has_receipts else None,
            retries=res.retries,
        )

    def __post_init__(self) -> None:
        if self.token and self.token == self.support_token:
            raise ConfigError(
                "PAYWINDOW_SUPPORT_TOKEN must differ from PAYWINDOW_API_TOKEN: "
                "support's routes would be open to the marketplace app"
            )
        if self.admin_token and self.admin_token in (self.token, self.support_token):
            raise ConfigError(
                "PAYWINDOW_ADMIN_TOKEN must differ from PAYWINDOW_API_TOKEN and "
                "PAYWINDOW_SUPPORT_TOKEN: notification endpoints and their secrets would be "
                "open to the app or support"
            )


_APP, _SUPPORT, _ADMIN = "app", "support", "admin"


def _caller(request: Request, service: OrdersService) -> str | None:
    """Which credential the request carries: "app", "support", "admin" or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    given = token.encode("latin-1")  # Starlette decoded the header as latin-1: the bytes sent
    caller = None
    known = ((_APP, service.token), (_SUPPORT, service.support_token))
    for role, expected in (*known, (_ADMIN, service.admin_token)):
        if expected and hmac.compare_digest(given, expected.encode()):
            caller = role
    return caller


def _allow(*roles: str, refusal: str | None = None) -> Callable[[Request], OrdersService]:
    """A dependency: the caller holds one of ``roles``, and any path order id could exist;
    ``refusal`` is the 403 message (else the one for the caller's token)."""

    def dependency(request: Request) -> OrdersService:
        service: OrdersService = request.app.state.orders
        caller = _caller(request, service)
        if caller is None:
            raise Unauthorized()
        if caller not in roles:
            raise Forbidden(refusal or _FORBIDDEN[caller])
        order_id = request.path_params.get("order_id")
        if order_id is not None and not _ORDER_ID.fullmatch(order_id):
            raise NotFound(f"no such order: order ids match {ORDER_ID_PATTERN}")
        return service

    return dependency


#: Why a token may not call a route, by the token that tried.
_FORBIDDEN = {
    _APP: "the app token (PAYWINDOW_API_TOKEN) cannot call support routes; "
    "use the support token (PAYWINDOW_SUPPORT_TOKEN)",
    _SUPPORT: "the support token (PAYWINDOW_SUPPORT_TOKEN) reads orders and retries them; "
    "creating orders and reopening checkout take the app token (PAYWINDOW_API_TOKEN)",
    _ADMIN: "the admin token (PAYWINDOW_ADMIN_TOKEN) manages notification endpoints only; "
    "orders and the feed take the app token (PAYWINDOW_API_TOKEN)",
}

_app_only = _allow(_APP)
_reader = _allow(_APP, _SUPPORT)
_support_only = _allow(_SUPPORT)
_admin_only = _allow(
    _ADMIN, refusal="notification endpoints take the admin token (PAYWINDOW_ADMIN_TOKEN)"
)
_any_token = _allow(_APP, _SUPPORT, _ADMIN)


def _receipts(request: Request) -> None:
    """Auth for the receipt route, and hand it the receipt service (set on the app state)."""
    service = _reader(request)
    if service.receipts is None:
        raise ReceiptsNotConfigured()
    request.app.state.receipts = service.receipts
    request.app.state.clock = service.clock


AppService = Annotated[OrdersService, Depends(_app_only)]
ReaderService = Annotated[OrdersService, Depends(_reader)]

router = APIRouter(prefix="/v1/orders")


def _client(service: OrdersService) -> stripe.StripeClient:
    if service.client is None:
        raise GatewayUnavailable("Stripe is not configured (PAYWINDOW_STRIPE_API_KEY)")
    return service.client


@router.post(
    "",
    responses={
        200: {"model": OrderView, "description": "The same body again: the same order."},
        201: {"model": OrderView, "description": "Opened, with its Checkout Session."},
        **errors(
            400, 401, 403, 409, 413, 422, 502, 503, e409="The order_id exists with another body."
        ),
    },
)
def create_order(body: OrderIn, service: AppService) -> JSONResponse:
    """Open an order and its Checkout Session (idempotent on ``order_id``)."""
    now = service.clock.now()
    view, created = open_order(
        service.engine, _client(service), body.to_request(), service.policy, now
    )
    return JSONResponse(view, status_code=201 if created else 200)


@router.get(
    "/{order_id}",
    response_model=None,
    responses={200: {"model": OrderView}, **errors(401, 404, 413, 503)},
)
def get_order(order_id: str, service: ReaderService) -> dict[str, Any]:
    """State, deadline, server time and seconds remaining, attempts, receipt link."""
    return _view(service, order_id)


@router.post(
    "/{order_id}/checkout",
    response_model=None,
    responses={
        200: {"model": OrderView, "description": "The order, with a payable checkout_url."},
        **errors(
            401, 403, 404, 409, 413, 422, 502, 503, e409="The order is paid or its window closed."
        ),
    },
)
def reopen_checkout(order_id: str, service: AppService) -> dict[str, Any]:
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


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


def install_orders_api(app: FastAPI, service: OrdersService) -> None:
    """Mount the order API on ``app`` with its auth, error handlers, body-size limit and
    its OpenAPI document (``GET /v1/openapi.json``, behind any of the tokens)."""
    from paywindow.web.live import router as live_router
    from paywindow.web.notifications import endpoints_router, feed_router
    from paywindow.web.receipts import router as receipts_router
    from paywindow.web.retries import router as retry_router

    app.state.orders = service
    app.include_router(router)
    app.include_router(
        retry_router,
        dependencies=[Depends(_support_only)],
        responses={
            200: {"model": RetryView, "description": "The retry ran; the plan after it."},
            **errors(401, 403, 404, 409, 413, 502, e409=_RETRY_409),
            **errors(503, model=RetryError),
        },
    )
    app.include_router(
        receipts_router,
        dependencies=[Depends(_receipts)],
        responses={
            200: {"model": ReceiptView, "description": "Signed links to the receipt and notes."},
            202: {"model": ReceiptPending, "description": "Being rendered; see Retry-After."},
            **errors(401, 404, 409, 413, 503, e409="The order is not paid: no receipt."),
        },
    )
    app.include_router(live_router, dependencies=[Depends(_reader)])
    app.include_router(feed_router, dependencies=[Depends(_reader)])
    app.include_router(endpoints_router, dependencies=[Depends(_admin_only)])
    app.add_middleware(_BodyLimit, limit=service.max_body)
    document: dict[str, Any] = {}

    def openapi(_service: Annotated[OrdersService, Depends(_any_token)]) -> JSONResponse:
        if not document:  # built on first use, once every /v1 route is mounted
            document.update(openapi_document(app.routes, version("paywindow")))
        return JSONResponse(document)

    app.add_api_route("/v1/openapi.json", openapi, methods=["GET"], include_in_schema=False)


_RETRY_409 = "No failed payment, the plan is closed or used up, or an attempt is running."


class _BodyLimit:
    """413 for an order-API body over the limit, declared or streamed.

    A streamed (chunked) body is read whole, up to the limit, before the app sees it: once the
    app is reading, an oversized body could only end as a parse error.
    """

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
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await _reject_too_large(send, self.limit)
                return
            more = message.get("more_body", False)
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Any) -> Callable[[], Awaitable[Any]]:
    """A ``receive`` that hands over ``body`` once, then the client's own messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Any:
        return pending.pop() if pending else await receive()

    return replayed


async def _reject_too_large(send: Any, limit: int) -> None:
    response = error_response(413, "too_large", f"body larger than {limit} bytes")
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": response.body})
