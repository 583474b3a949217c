"""Checkout Sessions and refunds at Stripe, as paywindow uses them.

Sessions are destination charges: ``payment_intent_data`` carries the application fee, the
seller's connected account and paywindow's metadata (Stripe does not copy session metadata
to the PaymentIntent). Every create is sent with an idempotency key derived from the order
and attempt, so retries and duplicate calls return the same session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import stripe

from paywindow.errors import GatewayRejected, GatewayUnavailable
from paywindow.gateway.client import stripe_errors
from paywindow.gateway.metadata import order_metadata, refund_metadata

__all__ = [
    "CheckoutLine",
    "CheckoutRequest",
    "SessionInfo",
    "create_session",
    "expire_session",
    "refund_payment",
    "retrieve_session",
    "with_retries",
]

T = TypeVar("T")

_NOT_OPEN = "Only Checkout Sessions with a status in"


@dataclass(frozen=True)
class CheckoutLine:
    name: str
    unit_amount: int
    quantity: int


@dataclass(frozen=True)
class CheckoutRequest:
    """Everything a Checkout Session for one attempt of one order needs."""

    order_id: str
    attempt: int
    currency: str
    lines: tuple[CheckoutLine, ...]
    application_fee_amount: int
    seller_account: str
    expires_at: datetime
    success_url: str
    cancel_url: str
    customer: str | None = None
    customer_email: str | None = None
    locale: str | None = None

    @property
    def idempotency_key(self) -> str:
        return f"paywindow:{self.order_id}:checkout:{self.attempt}"


@dataclass(frozen=True)
class SessionInfo:
    id: str
    status: str
    url: str | None
    expires_at: datetime
    payment_intent: str | None


def _info(obj: Any) -> SessionInfo:
    session = obj.to_dict() if hasattr(obj, "to_dict") else obj
    pi = session.get("payment_intent")
    return SessionInfo(
        id=str(session["id"]),
        status=str(session["status"]),
        url=session.get("url"),
        expires_at=datetime.fromtimestamp(int(session["expires_at"]), UTC),
        payment_intent=pi if isinstance(pi, str) or pi is None else str(pi["id"]),
    )


def _stripe_locale(locale: str | None) -> str | None:
    """Checkout takes ``auto`` or a short tag such as ``en`` / ``fr-CA``."""
    if not locale:
        return None
    language, _, region = locale.replace("_", "-").partition("-")
    return (
        f"{language.lower()}-{region.upper()}" if region and language == "fr" else language.lower()
    )


def create_session(client: stripe.StripeClient, request: CheckoutRequest) -> SessionInfo:
    """Create the Checkout Session for ``request`` (idempotent per order and attempt)."""
    metadata = order_metadata(request.order_id, request.attempt)
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": request.currency,
                    "unit_amount": line.unit_amount,
                    "product_data": {"name": line.name},
                },
                "quantity": line.quantity,
            }
            for line in request.lines
        ],
        "client_reference_id": request.order_id,
        "metadata": metadata,
        "expires_at": int(request.expires_at.timestamp()),
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
        "payment_intent_data": {
            "application_fee_amount": request.application_fee_amount,
            "transfer_data": {"destination": request.seller_account},
            "metadata": metadata,
        },
    }
    if request.customer:
        params["customer"] = request.customer
    elif request.customer_email:
        params["customer_email"] = request.customer_email
    if locale := _stripe_locale(request.locale):
        params["locale"] = locale
    with stripe_errors():
        session = client.v1.checkout.sessions.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": request.idempotency_key},
        )
    return _info(session)


def retrieve_session(client: stripe.StripeClient, session_id: str) -> dict[str, Any]:
    """The session as Stripe has it now, with its PaymentIntent expanded."""
    with stripe_errors():
        session = client.v1.checkout.sessions.retrieve(
            session_id, params={"expand": ["payment_intent"]}
        )
    return session.to_dict()


def expire_session(client: stripe.StripeClient, session_id: str) -> SessionInfo:
    """Expire an open session; a session already complete or expired is returned as it is."""
    try:
        with stripe_errors():
            return _info(client.v1.checkout.sessions.expire(session_id))
    except GatewayRejected as exc:
        if not exc.message.startswith(_NOT_OPEN):
            raise
    with stripe_errors():
        return _info(client.v1.checkout.sessions.retrieve(session_id))


def refund_payment(
    client: stripe.StripeClient, payment_intent: str, *, reason_key: str, order_id: str
) -> str:
    """Refund a destination charge in full, reversing the transfer and the platform fee."""
    with stripe_errors():
        refund = client.v1.refunds.create(
            params={
                "payment_intent": payment_intent,
                "reverse_transfer": True,
                "refund_application_fee": True,
                "metadata": refund_metadata(order_id, reason_key),
            },
            options={"idempotency_key": f"paywindow:{order_id}:refund:{reason_key}"},
        )
    return str(refund.id)


def with_retries(call: Callable[[], T], *, attempts: int = 3, base_delay: float = 0.25) -> T:
    """Call ``call()``; on :class:`GatewayUnavailable` retry with bounded backoff.

    The SDK already retries 5xx and connection errors with the same idempotency key; this
    adds 429s and gives up after ``attempts`` tries, re-raising the last error.
    """
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except GatewayUnavailable:
            if attempt == attempts:
                raise
            time.sleep(base_delay * 2 ** (attempt - 1))
    raise AssertionError("unreachable")
