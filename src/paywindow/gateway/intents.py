"""Off-session PaymentIntents and saved payment methods, as paywindow's retries use them.

A retry charges the buyer's saved card without the buyer present: one PaymentIntent created
and confirmed in one call (``confirm=true&off_session=true``), a destination charge with the
order's application fee and paywindow's metadata, sent with an idempotency key per retry
attempt. A card decline is an answer, not an error: it comes back as a declined result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from paywindow.gateway.client import stripe_errors
from paywindow.gateway.metadata import order_metadata

__all__ = [
    "OffSessionCharge",
    "OffSessionResult",
    "SavedCard",
    "charge_off_session",
    "find_saved_card",
    "payment_intent_customer",
]


@dataclass(frozen=True)
class SavedCard:
    """A card attached to the buyer's Customer (saved for future use, so usable off-session)."""

    id: str
    customer: str
    last4: str | None


@dataclass(frozen=True)
class OffSessionCharge:
    order_id: str
    attempt: int  # the order's attempt number (metadata ``paywindow_attempt``)
    retry_number: int
    amount: int
    currency: str
    customer: str
    payment_method: str
    application_fee_amount: int
    seller_account: str

    @property
    def idempotency_key(self) -> str:
        """Derived from the order attempt (reserved once per retry, under the order's lease),
        so a repeated or concurrent request for it can never become a second charge."""
        return f"paywindow:{self.order_id}:attempt:{self.attempt}:off_session"


@dataclass(frozen=True)
class OffSessionResult:
    status: str  # succeeded | processing | declined | requires_action
    payment_intent: str | None
    created: datetime | None = None
    charge: str | None = None
    amount_received: int | None = None
    code: str | None = None
    decline_code: str | None = None
    advice_code: str | None = None
    message: str | None = None


def _id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    found = value.get("id") if hasattr(value, "get") else getattr(value, "id", None)
    return str(found) if found is not None else None


def payment_intent_customer(client: stripe.StripeClient, payment_intent: str) -> str | None:
    """The Customer a PaymentIntent (say the one that failed in Checkout) belongs to."""
    with stripe_errors():
        intent = client.v1.payment_intents.retrieve(payment_intent)
    return _id(intent.to_dict().get("customer"))


def find_saved_card(
    client: stripe.StripeClient, customer: str, now: datetime, prefer: str | None = None
) -> SavedCard | None:
    """The card to charge off-session: ``prefer`` (the card that declined) if it is saved,
    else the Customer's default card, else the newest one; expired cards are skipped."""
    with stripe_errors():
        methods = client.v1.payment_methods.list(
            params={"customer": customer, "type": "card", "limit": 100}
        )
        owner = client.v1.customers.retrieve(customer)
    cards = [pm.to_dict() for pm in methods.data]
    usable = [pm for pm in cards if not _expired(pm.get("card") or {}, now)]
    settings = owner.to_dict().get("invoice_settings") or {}
    default = _id(settings.get("default_payment_method"))
    for wanted in (prefer, default):
        for pm in usable:
            if wanted and pm["id"] == wanted:
                return _card(pm, customer)
    if not usable:
        return None
    return _card(max(usable, key=lambda pm: int(pm.get("created") or 0)), customer)


def _expired(card: dict[str, Any], now: datetime) -> bool:
    year, month = card.get("exp_year"), card.get("exp_month")
    if not year or not month:
        return False
    return (int(year), int(month)) < (now.year, now.month)


def _card(pm: dict[str, Any], customer: str) -> SavedCard:
    return SavedCard(id=str(pm["id"]), customer=customer, last4=(pm.get("card") or {}).get("last4"))


def charge_off_session(client: stripe.StripeClient, charge: OffSessionCharge) -> OffSessionResult:
    """Create and confirm the off-session PaymentIntent; a card decline is a result."""
    metadata = order_metadata(charge.order_id, charge.attempt)
    params: dict[str, Any] = {
        "amount": charge.amount,
        "currency": charge.currency,
        "customer": charge.customer,
        "payment_method": charge.payment_method,
        "confirm": True,
        "off_session": True,
        "application_fee_amount": charge.application_fee_amount,
        "transfer_data": {"destination": charge.seller_account},
        "metadata": metadata,
        "description": f"Order {charge.order_id} (retry {charge.retry_number})",
    }
    with stripe_errors():
        try:
            intent = client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": charge.idempotency_key},
            )
        except stripe.CardError as exc:
            return _declined(exc)
    data = intent.to_dict()
    return OffSessionResult(
        status=str(data["status"]),
        payment_intent=str(data["id"]),
        created=datetime.fromtimestamp(int(data["created"]), UTC),
        charge=_id(data.get("latest_charge")),
        amount_received=data.get("amount_received") or None,
    )


def _declined(exc: stripe.CardError) -> OffSessionResult:
    error = exc.error
    raw: dict[str, Any] = error.to_dict() if error is not None else {}
    intent = raw.get("payment_intent") or {}
    created = intent.get("created") if isinstance(intent, dict) else None
    return OffSessionResult(
        status="declined",
        payment_intent=_id(intent),
        created=datetime.fromtimestamp(int(created), UTC) if created else None,
        charge=_id(raw.get("charge")),
        code=raw.get("code"),
        decline_code=raw.get("decline_code"),
        advice_code=raw.get("advice_code"),
        message=raw.get("message"),
    )
