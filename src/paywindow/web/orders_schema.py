"""The order API's OpenAPI document: response models and the status codes each route answers.

The handlers build plain dicts; these models only describe them. The contract test
(``tests/web/test_openapi.py``) runs schemathesis against the served app and fails when
an answer's status or body is not the one documented here, so the document stays honest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field
from starlette.routing import BaseRoute

from paywindow.payments.states import OrderState

__all__ = [
    "ENDPOINT_ID_PATTERN",
    "EVENTS_DESCRIPTION",
    "EVENT_SCHEMA",
    "MAX_CURSOR",
    "ORDER_ID_PATTERN",
    "EndpointCreated",
    "EndpointList",
    "EndpointView",
    "ErrorOut",
    "FeedPage",
    "OrderView",
    "ReceiptPending",
    "ReceiptView",
    "RetryError",
    "RetryView",
    "errors",
    "openapi_document",
]

ORDER_ID_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"
#: Notification endpoint ids (``paywindow.stripe_ids.new_id("ep", 24)``); any other is 404.
ENDPOINT_ID_PATTERN = r"^ep_[A-Za-z0-9]{24}$"
#: The largest feed cursor (``seq`` is a signed 64-bit integer).
MAX_CURSOR = 2**63 - 1


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable: unauthorized, not_found, conflict, ...")
    message: str = Field(description="What is wrong, for a person.")
    field: str | None = Field(
        default=None, description="The request field at fault (buyer.email, line_items[0].name)."
    )


class ErrorOut(BaseModel):
    """Every error the order API answers."""

    error: ErrorBody


class AttemptView(BaseModel):
    attempt: int
    session_id: str | None
    status: str
    channel: str
    expires_at: datetime | None


class OrderView(BaseModel):
    """An order as the marketplace app sees it."""

    order_id: str
    state: OrderState
    checkout_url: str | None = Field(description="Set while the buyer can pay.")
    session_id: str | None
    deadline: datetime
    server_time: datetime
    seconds_remaining: int = Field(ge=0, description="What the app's countdown syncs to.")
    currency: str
    amount_total: int
    application_fee_amount: int
    attempts: list[AttemptView]
    receipt_url: str | None = Field(description="Set once the receipt is stored.")


class PlanView(BaseModel):
    status: str
    decline_code: str | None
    decline_class: str | None
    first_failed_at: datetime
    close_reason: str | None


class RetryAttemptView(BaseModel):
    number: int
    kind: str
    due_at: datetime
    status: str
    reason: str | None
    channel: str | None
    outcome: str | None
    decline_code: str | None
    stripe_errors: int
    manual: bool
    executed_at: datetime | None


class RetryView(BaseModel):
    """The retry support just ran, and the order's plan after it."""

    order_id: str
    retry: int
    status: str
    outcome: str
    channel: str | None
    reason: str | None
    last_error: str | None
    plan: PlanView | None
    attempts: list[RetryAttemptView]


class RetryError(ErrorOut):
    """An error; when Stripe was unavailable mid-retry, the attempt given back as well."""

    retry: RetryView | None = None


class DocumentView(BaseModel):
    kind: str
    number: str
    version: int
    amount: int
    currency: str
    sha256: str
    url: str = Field(description="Signed download link; valid until expires_at.")
    expires_at: datetime


class ReceiptView(BaseModel):
    order_id: str
    status: Literal["ready"]
    receipt: DocumentView
    credit_notes: list[DocumentView]


class ReceiptPending(BaseModel):
    order_id: str
    status: Literal["pending"]


class EndpointView(BaseModel):
    """A notification endpoint; its secret is never shown again after it was made."""

    id: str
    url: str
    topics: list[str] | None = Field(description="The topics it takes; null is every topic.")
    description: str | None
    status: Literal["enabled", "disabled"]
    disabled_reason: str | None
    failing_since: datetime | None = Field(
        description="Set while deliveries fail; the relay disables it after five days."
    )
    created_at: datetime


class EndpointCreated(EndpointView):
    """An endpoint just added, or its secret just rotated: the only time the secret is shown."""

    secret: str = Field(
        description="The Standard Webhooks signing secret (whsec_...): store it now; it is "
        "never shown again. After a rotation the previous one keeps signing for 24 hours."
    )


class EndpointList(BaseModel):
    data: list[EndpointView]


class MessageView(BaseModel):
    """One notification: the webhook body, with its feed position."""

    id: str = Field(description="msg_...: the webhook-id header of the same message.")
    type: str = Field(description="The topic: order.paid, order.expired, receipt.generated, ...")
    timestamp: str
    seq: int = Field(description="Its feed position.")
    order_id: str | None
    data: dict[str, Any]


class FeedPage(BaseModel):
    """A page of the pull feed, in feed order."""

    data: list[MessageView]
    next_cursor: int = Field(
        ge=0,
        description="Pass as `after` for the next page: the last message's seq (or the "
        "cursor given, when the page is empty).",
    )
    has_more: bool = Field(description="More messages follow now: ask again at once.")


#: One Server-Sent Event of the live-status stream (its fields; ``data`` is one JSON line).
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"enum": ["state", "tick", "end"]},
        "id": {"type": "string", "pattern": "^[0-9]{1,19}$"},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "retry": {"type": ["integer", "string"], "description": "Reconnect delay (ms)."},
    },
    "additionalProperties": False,
}

EVENTS_DESCRIPTION = """Server-Sent Events (`text/event-stream`):

* `state` (first, unless resuming): the order view (as `GET /v1/orders/{order_id}`); `id` is
  the order's latest transition id.
* `state` per state change: `{order_id, state, previous_state, reason, at, deadline,
  server_time, seconds_remaining}` with `id` = the transition id; without `id` when the deadline
  passed and the order reads as `expired` before the expiry flow closed it.
* `tick` every 15 s: `{order_id, state, server_time, seconds_remaining}`.
* `end`: `{order_id, state}` once the state cannot change for the buyer (paid and after,
  late_payment_refunded, payment_mismatch; expired ten minutes past the deadline); then the
  stream closes. Close the EventSource on `end`.

Reconnect with `Last-Event-ID` (EventSource does): the state changes after that id, then a
tick; 204 when the order was already settled at that id (EventSource stops reconnecting)."""


_MEANING = {
    400: "The body is not valid JSON.",
    401: "No bearer token, or not one paywindow knows.",
    403: "The token is valid but not for this route (app token on a support route, or the "
    "support token on a route only the marketplace app calls).",
    404: "No such order (an id that does not match " + ORDER_ID_PATTERN + " never exists).",
    409: "The order's state does not allow this.",
    413: "The body is larger than PAYWINDOW_API_MAX_BODY.",
    422: "A field is invalid; `field` names it.",
    502: "Stripe refused the request with a server error.",
    503: "A dependency (database, Stripe, object store) is unavailable; retry later.",
}


def errors(*codes: int, model: type[BaseModel] = ErrorOut, **why: str) -> dict[int | str, Any]:
    """``responses=`` entries for these error codes; ``why`` overrides a meaning (``e409=...``)."""
    return {
        code: {"model": model, "description": why.get(f"e{code}", _MEANING[code])} for code in codes
    }


def openapi_document(routes: Sequence[BaseRoute], version: str) -> dict[str, Any]:
    """The OpenAPI document of the ``/v1/`` routes among ``routes`` (an app's, so routers
    included later are listed too), with the bearer scheme and the order-id rule."""
    doc = get_openapi(
        title="paywindow order API",
        version=version,
        description="Called by the marketplace backend with `Authorization: Bearer <token>`: "
        "the app token (PAYWINDOW_API_TOKEN) or, for support routes, the support token "
        "(PAYWINDOW_SUPPORT_TOKEN); /v1/notification_endpoints takes the admin token "
        "(PAYWINDOW_ADMIN_TOKEN).",
        routes=routes,
    )
    doc["paths"] = {p: ops for p, ops in doc.get("paths", {}).items() if p.startswith("/v1/")}
    doc.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer"}
    }
    doc["security"] = [{"bearer": []}]
    schemas = doc["components"].get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)  # FastAPI's own 422 shape: this API answers ErrorOut instead
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            for response in operation["responses"].values():
                content = response.get("content", {})
                if "text/event-stream" in content:  # a stream, not FastAPI's default JSON
                    content.pop("application/json", None)
            if "HTTPValidationError" in str(operation["responses"].get("422")):
                del operation["responses"]["422"]  # a path id never fails validation: 404
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "order_id":
                    parameter["description"] = (
                        f"The marketplace's order id ({ORDER_ID_PATTERN}); any other is 404."
                    )
    return doc
