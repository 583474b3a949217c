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
    "ORDER_ID_PATTERN",
    "ErrorOut",
    "OrderView",
    "ReceiptPending",
    "ReceiptView",
    "RetryError",
    "RetryView",
    "errors",
    "openapi_document",
]

ORDER_ID_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"


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
        "(PAYWINDOW_SUPPORT_TOKEN).",
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
            if "HTTPValidationError" in str(operation["responses"].get("422")):
                del operation["responses"]["422"]  # a path id never fails validation: 404
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "order_id":
                    parameter["description"] = (
                        f"The marketplace's order id ({ORDER_ID_PATTERN}); any other is 404."
                    )
    return doc
