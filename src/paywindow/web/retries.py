"""``POST /v1/orders/{id}/retry``: support's manual retry over the order API.

``install_orders_api`` mounts :data:`router` behind the support token
(``PAYWINDOW_SUPPORT_TOKEN``; the app token gets 403); it reads the ``OrdersService`` from
``request.app.state.orders``. Errors use the order API's shape ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from paywindow.errors import GatewayRejected
from paywindow.retries import RetryPolicy, plan_view, retry_now
from paywindow.web.errors import error_response

__all__ = ["router"]

router = APIRouter(prefix="/v1/orders")


def _policy(service: Any) -> RetryPolicy:
    """The service's retry policy (``serve`` sets the settings'), else the default offsets."""
    configured = service.retries
    return configured if configured is not None else RetryPolicy(checkout=service.policy)


@router.post("/{order_id}/retry")
def retry_order(order_id: str, request: Request) -> JSONResponse:
    """Run the order's next retry now; 409 when the plan allows none (used up, closed, paid)."""
    service = request.app.state.orders
    if service.client is None:
        return error_response(503, "stripe_unavailable", "Stripe is not configured")
    try:
        result = retry_now(
            service.engine,
            service.client,
            order_id,
            _policy(service),
            service.clock.now(),
        )
    except GatewayRejected as exc:  # Stripe refused the charge or the link: 502
        return error_response(502, "stripe_rejected", exc.message)
    body = {**result, **plan_view(service.engine, order_id)}
    if result["outcome"] == "given_back":
        return JSONResponse(
            {
                "error": {"code": "stripe_unavailable", "message": result["last_error"] or ""},
                "retry": body,
            },
            status_code=503,
        )
    return JSONResponse(body, status_code=200)
