"""Reading Stripe events: which order an event is about and what it says (a :class:`Change`).

Pure functions over the event's JSON. paywindow marks what it creates with metadata
``paywindow_order_id`` and ``paywindow_attempt`` on the Checkout Session and in
``payment_intent_data.metadata`` (Stripe does not copy session metadata to the PaymentIntent).
Charges and disputes are tied to an order through their PaymentIntent when they carry no
metadata of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from paywindow.errors import EventError
from paywindow.gateway.metadata import ATTEMPT_KEY, ORDER_KEY
from paywindow.payments.facts import AttemptStatus, Change, DisputeStatus, FailureFacts

__all__ = [
    "ATTEMPT_KEY",
    "MAX_CREATED",
    "ORDER_KEY",
    "RECONCILIATION_PREFIXES",
    "Applies",
    "Ignored",
    "Interpretation",
    "interpret",
]


#: Event types kept only for reconciliation; they never touch an order.
RECONCILIATION_PREFIXES = ("payout.", "balance.", "transfer.", "application_fee.")

_DISPUTE_OPEN = {"warning_needs_response", "warning_under_review", "needs_response", "under_review"}
_DISPUTE_WON = {"won", "warning_closed"}
_DISPUTE_LOST = {"lost", "charge_refunded"}

JSON = dict[str, Any]


@dataclass(frozen=True)
class Ignored:
    """The event is kept but changes no order."""

    reason: str


@dataclass(frozen=True)
class Applies:
    """The event changes one order: named by id, or found through a PaymentIntent or charge."""

    change: Change
    order_id: str | None = None
    payment_intent: str | None = None
    charge: str | None = None


Interpretation = Ignored | Applies


#: The latest ``created`` accepted, 2100-01-01T00:00:00Z; from 0, the range the processor reads.
MAX_CREATED = 4_102_444_800
#: Unix seconds paywindow accepts in a Stripe object (1970 .. 2100), as in the envelope.
_MAX_TS = MAX_CREATED
#: Stripe ids are short; a longer "id" is not Stripe's and would not fit a column.
_MAX_ID = 255
#: Attempt numbers paywindow writes are small; anything larger is not ours.
_MAX_ATTEMPT = 10_000


def _ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_TS:
        raise EventError(f"timestamp out of range: {value!r}")
    return datetime.fromtimestamp(value, UTC)


def _amount(obj: JSON, name: str) -> int | None:
    """An amount in minor units: an integer or absent; anything else is a data error."""
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventError(f"{obj.get('object', 'object')}.{name} is not an integer: {value!r}")
    return value


def _currency(obj: JSON) -> str | None:
    value = obj.get("currency")
    return str(value).lower() if value is not None else None


def _id(value: Any) -> str | None:
    """An expandable field: either an id string or an object with an id (None if too long
    to be a Stripe id)."""
    if isinstance(value, dict):
        value = value.get("id")
    if value is None or len(str(value)) > _MAX_ID:
        return None
    return str(value)


#: What an order id paywindow issued looks like (the order API's pattern).
_ORDER_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def _order_ref(metadata: Any) -> tuple[str | None, int | None]:
    if not isinstance(metadata, dict) or not metadata.get(ORDER_KEY):
        return None, None
    if not isinstance(metadata[ORDER_KEY], str) or not _ORDER_ID.fullmatch(metadata[ORDER_KEY]):
        return None, None  # not an order id paywindow could have written
    raw_attempt = metadata.get(ATTEMPT_KEY, "1")
    try:
        attempt = int(raw_attempt)
    except (TypeError, ValueError):
        attempt = 1
    if attempt > _MAX_ATTEMPT:
        raise EventError(f"{ATTEMPT_KEY} out of range: {str(raw_attempt)[:40]}")
    return str(metadata[ORDER_KEY]), max(attempt, 1)


def interpret(event: JSON) -> Interpretation:
    """Say which order ``event`` concerns and what it changes, or why it is ignored."""
    kind = str(event.get("type", ""))
    obj = event.get("data", {}).get("object")
    if not isinstance(obj, dict):
        return Ignored("event has no data.object")
    created = _ts(event.get("created"))
    assert created is not None
    handler = _HANDLERS.get(kind)
    if handler is not None:
        return handler(kind, obj, created, str(event.get("id")))
    if kind.startswith(RECONCILIATION_PREFIXES):
        return Ignored("kept for reconciliation")
    return Ignored(f"unhandled event type {kind}")


def _session(kind: str, session: JSON, created: datetime, event_id: str) -> Interpretation:
    order_id, attempt = _order_ref(session.get("metadata"))
    if order_id is None:
        return Ignored("no paywindow metadata on the checkout session")
    base = Change(
        attempt=attempt,
        session_id=_id(session.get("id")),
        payment_intent=_id(session.get("payment_intent")),
        expires_at=_ts(session.get("expires_at")),
        currency=_currency(session),
    )
    if kind == "checkout.session.expired":
        expired = replace(base, attempt_status=AttemptStatus.EXPIRED, expired_at=created)
        return Applies(expired, order_id=order_id)
    if kind == "checkout.session.async_payment_failed":
        failure = FailureFacts(
            key=f"{base.session_id}:async_payment_failed",
            attempt=attempt or 1,
            failed_at=created,
            payment_intent=base.payment_intent,
            code="async_payment_failed",
            message="The delayed payment method failed.",
        )
        change = replace(base, attempt_status=AttemptStatus.FAILED, failure=failure)
        return Applies(change, order_id=order_id)
    paid = kind == "checkout.session.async_payment_succeeded" or session.get("payment_status") in (
        "paid",
        "no_payment_required",
    )
    change = replace(
        base,
        attempt_status=AttemptStatus.PAID if paid else AttemptStatus.PROCESSING,
        completed_at=created,
        paid=paid,
        amount_charged=_amount(session, "amount_total") if paid else None,
    )
    return Applies(change, order_id=order_id)


def _payment_intent(kind: str, intent: JSON, created: datetime, event_id: str) -> Interpretation:
    order_id, attempt = _order_ref(intent.get("metadata"))
    if order_id is None:
        return Ignored("no paywindow metadata on the payment intent")
    pi = _id(intent.get("id"))
    if kind == "payment_intent.payment_failed":
        return Applies(
            Change(attempt=attempt, payment_intent=pi, failure=_failure(intent, attempt, created)),
            order_id=order_id,
        )
    if kind == "payment_intent.processing":
        change = Change(attempt=attempt, payment_intent=pi, attempt_status=AttemptStatus.PROCESSING)
        return Applies(change, order_id=order_id)
    if kind != "payment_intent.succeeded":
        return Ignored(f"{kind} does not change an order")
    change = Change(
        attempt=attempt,
        payment_intent=pi,
        attempt_status=AttemptStatus.PAID,
        completed_at=_ts(intent.get("created")) or created,
        paid=True,
        charge=_id(intent.get("latest_charge")),
        amount_charged=_amount(intent, "amount_received") or _amount(intent, "amount"),
        currency=_currency(intent),
    )
    return Applies(change, order_id=order_id)


def _failure(intent: JSON, attempt: int | None, created: datetime) -> FailureFacts:
    error = intent.get("last_payment_error") or {}
    pi = _id(intent.get("id"))
    charge = _id(error.get("charge"))
    method = _id(error.get("payment_method"))
    key = f"{pi}:{charge or method or error.get('code') or 'unknown'}"
    return FailureFacts(
        key=key,
        attempt=attempt or 1,
        failed_at=created,
        payment_intent=pi,
        charge=charge,
        code=error.get("code"),
        decline_code=error.get("decline_code"),
        advice_code=error.get("advice_code"),
        message=error.get("message"),
    )


def _charge(kind: str, charge: JSON, created: datetime, event_id: str) -> Interpretation:
    if kind not in ("charge.refunded", "charge.succeeded"):
        return Ignored(f"{kind} does not change an order")
    if kind == "charge.succeeded" and charge.get("status") != "succeeded":
        return Ignored("charge did not succeed")
    order_id, attempt = _order_ref(charge.get("metadata"))
    pi = _id(charge.get("payment_intent"))
    refunded = (_amount(charge, "amount_refunded") or 0) if kind == "charge.refunded" else None
    change = Change(
        attempt=attempt,
        payment_intent=pi,
        completed_at=_ts(charge.get("created")) or created,
        paid=True,
        charge=_id(charge.get("id")),
        amount_charged=_amount(charge, "amount_captured") or _amount(charge, "amount"),
        amount_refunded=refunded,
        currency=_currency(charge),
    )
    return Applies(change, order_id=order_id, payment_intent=pi, charge=_id(charge.get("id")))


def _dispute(kind: str, dispute: JSON, created: datetime, event_id: str) -> Interpretation:
    raw = str(dispute.get("status", ""))
    if raw in _DISPUTE_WON:
        status = DisputeStatus.WON
    elif raw in _DISPUTE_LOST:
        status = DisputeStatus.LOST
    elif raw in _DISPUTE_OPEN:
        status = DisputeStatus.OPEN
    else:
        return Ignored(f"unknown dispute status {raw!r}")
    change = Change(dispute=_id(dispute.get("id")), dispute_status=status)
    return Applies(
        change, payment_intent=_id(dispute.get("payment_intent")), charge=_id(dispute.get("charge"))
    )


_HANDLERS = {
    "checkout.session.completed": _session,
    "checkout.session.async_payment_succeeded": _session,
    "checkout.session.async_payment_failed": _session,
    "checkout.session.expired": _session,
    "payment_intent.succeeded": _payment_intent,
    "payment_intent.payment_failed": _payment_intent,
    "payment_intent.processing": _payment_intent,
    "charge.succeeded": _charge,
    "charge.refunded": _charge,
    "charge.dispute.created": _dispute,
    "charge.dispute.updated": _dispute,
    "charge.dispute.closed": _dispute,
    "charge.dispute.funds_withdrawn": _dispute,
    "charge.dispute.funds_reinstated": _dispute,
}
