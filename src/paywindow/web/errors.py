"""The one exception -> HTTP map of every route, and the one error body.

Every answer that is not a success has the shape ``{"error": {"code", "message"[, "field"]
[, "correlation_id"]}}``. Bad input is 4xx naming the field; Stripe refusing a request is 422
(502 when Stripe itself failed to answer sensibly); :class:`~paywindow.errors.Transient`
trouble is 503 with a correlation id (code ``stripe_unavailable`` when Stripe is out);
anything else is a bug, answered 500 with a correlation id that is also in the log
(``paywindow.web.server_errors``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from paywindow.errors import (
    Conflict,
    GatewayRejected,
    GatewayUnavailable,
    InvalidRequest,
    NotFound,
    Transient,
)
from paywindow.web.server_errors import TRANSIENT_ERRORS, error_body, noted

__all__ = [
    "Forbidden",
    "ReceiptsNotConfigured",
    "Unauthorized",
    "error_response",
    "install_error_handlers",
]

#: Stripe's parameter names, as the order API's fields.
STRIPE_FIELDS = {
    "payment_intent_data[transfer_data][destination]": "seller_account",
    "payment_intent_data[application_fee_amount]": "application_fee_amount",
    "customer": "buyer.customer",
    "customer_email": "buyer.email",
    "currency": "currency",
    "locale": "locale",
}


class Unauthorized(Exception):
    """No bearer token, or a wrong one (401)."""


class Forbidden(Exception):
    """A valid token that may not call this route (403); the message says which one may."""


class ReceiptsNotConfigured(Exception):
    """The receipt route was called on a server without a receipt store (503)."""


def error_response(
    status: int, code: str, message: str, field: str | None = None, **headers: str
) -> JSONResponse:
    """The error body every route answers with; 401 carries ``WWW-Authenticate``."""
    body = error_body(code, message)
    if field:
        body["error"]["field"] = field
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status_code=status, headers=headers or None)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def _validation(exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return error_response(400, "malformed_json", "the body is not valid JSON")
    ctx_error = (first.get("ctx") or {}).get("error")
    if isinstance(ctx_error, InvalidRequest):
        return error_response(422, "invalid_request", ctx_error.message, ctx_error.field)
    field = _field(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    text = f"{field}: {message}" if field else message
    return error_response(422, "invalid_request", text, field)


def _rejected(exc: GatewayRejected) -> JSONResponse:
    field = STRIPE_FIELDS.get(exc.param or "", exc.param)
    status = 422 if (exc.http_status or 400) < 500 else 502
    return error_response(status, "stripe_rejected", exc.message, field)


def _http(exc: HTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    body = error_body(code, str(exc.detail))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


#: What each expected exception answers. Order matters only for subclasses: Starlette picks
#: the handler of the nearest class in the exception's MRO.
_ANSWERS: dict[type[Exception], Callable[[Any], Response]] = {
    HTTPException: _http,
    RequestValidationError: _validation,
    Unauthorized: lambda _e: error_response(401, "unauthorized", "missing or wrong bearer token"),
    Forbidden: lambda e: error_response(403, "forbidden", str(e)),
    ReceiptsNotConfigured: lambda _e: error_response(
        503, "receipts_unavailable", "no receipt store is configured"
    ),
    NotFound: lambda e: error_response(404, "not_found", str(e)),
    Conflict: lambda e: error_response(409, "conflict", str(e)),
    InvalidRequest: lambda e: error_response(422, "invalid_request", e.message, e.field),
    GatewayRejected: _rejected,
}


def install_error_handlers(app: FastAPI) -> None:
    """Install the map on ``app``: the expected answers above, 503 for other transient
    trouble, 500 (with a correlation id, logged and kept) for everything else."""

    def answer(
        respond: Callable[[Any], Response],
    ) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handler(_request: Request, exc: Exception) -> Response:
            return respond(exc)

        return handler

    async def failed(request: Request, exc: Exception) -> Response:
        status, body = noted(request.scope, exc)
        if isinstance(exc, GatewayUnavailable):  # say which dependency is out
            body["error"]["code"] = "stripe_unavailable"
            body["error"]["message"] = f"Stripe is unavailable, retry later: {exc}"
        return JSONResponse(body, status_code=status)

    for exc_type, respond in _ANSWERS.items():
        app.add_exception_handler(exc_type, answer(respond))
    transients: tuple[type[Exception], ...] = (Transient, *TRANSIENT_ERRORS)
    for transient in transients:
        if transient not in _ANSWERS:
            app.add_exception_handler(transient, failed)
    app.add_exception_handler(Exception, failed)
