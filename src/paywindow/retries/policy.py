"""Retry policy as pure rules: when the attempts of a plan fall, and what a decline allows.

The decline table is the one place that says which failures may be retried, and how
(docs/retries.md prints it). Stripe's own signal, ``advice_code``, wins over the decline code:
``do_not_try_again`` is always hard, ``confirm_card_data`` always needs the buyer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from paywindow.settings import MAX_RETRIES

if TYPE_CHECKING:
    from paywindow.payments import CheckoutPolicy

__all__ = [
    "DECLINE_TABLE",
    "MAX_ATTEMPTS",
    "DeclineClass",
    "DropReason",
    "PlannedAttempt",
    "RetryPolicy",
    "classify",
    "plan_attempts",
]

#: The seed's limit: never more than three retries per order.
MAX_ATTEMPTS = MAX_RETRIES


class DeclineClass(StrEnum):
    """What a failure allows: a retry off-session, a retry only with the buyer, or none."""

    SOFT = "soft"  # the same card may succeed later: off-session if saved, else a link
    BUYER = "buyer"  # the buyer must act (new data, authentication, another method): link only
    HARD = "hard"  # never retried off-session: one message to use another payment method


#: decline_code (or code when there is no decline code) -> class. Unlisted codes are BUYER:
#: a link is always safe, an unknown code is never charged again without the buyer.
DECLINE_TABLE: dict[str, DeclineClass] = {
    # soft: issuer said "not now" (insufficient funds, limits, a processing hiccup)
    "insufficient_funds": DeclineClass.SOFT,
    "processing_error": DeclineClass.SOFT,
    "generic_decline": DeclineClass.SOFT,
    "issuer_not_available": DeclineClass.SOFT,
    "try_again_later": DeclineClass.SOFT,
    "reenter_transaction": DeclineClass.SOFT,
    "approve_with_id": DeclineClass.SOFT,
    "card_velocity_exceeded": DeclineClass.SOFT,
    "withdrawal_count_limit_exceeded": DeclineClass.SOFT,
    # buyer: the card data or an authentication is missing; only the buyer can fix it
    "authentication_required": DeclineClass.BUYER,
    "authentication_not_handled": DeclineClass.BUYER,
    "expired_card": DeclineClass.BUYER,
    "incorrect_cvc": DeclineClass.BUYER,
    "invalid_cvc": DeclineClass.BUYER,
    "incorrect_number": DeclineClass.BUYER,
    "invalid_number": DeclineClass.BUYER,
    "incorrect_zip": DeclineClass.BUYER,
    "incorrect_address": DeclineClass.BUYER,
    "invalid_expiry_month": DeclineClass.BUYER,
    "invalid_expiry_year": DeclineClass.BUYER,
    "card_not_supported": DeclineClass.BUYER,
    "currency_not_supported": DeclineClass.BUYER,
    "async_payment_failed": DeclineClass.BUYER,
    # hard: lost, stolen, fraud, blocked, revoked; retrying is forbidden by the networks
    "stolen_card": DeclineClass.HARD,
    "lost_card": DeclineClass.HARD,
    "fraudulent": DeclineClass.HARD,
    "pickup_card": DeclineClass.HARD,
    "restricted_card": DeclineClass.HARD,
    "merchant_blacklist": DeclineClass.HARD,
    "do_not_try_again": DeclineClass.HARD,
    "do_not_honor": DeclineClass.HARD,
    "revocation_of_all_authorizations": DeclineClass.HARD,
    "revocation_of_authorization": DeclineClass.HARD,
    "stop_payment_order": DeclineClass.HARD,
    "security_violation": DeclineClass.HARD,
    "invalid_account": DeclineClass.HARD,
    "new_account_information_available": DeclineClass.HARD,
    "transaction_not_allowed": DeclineClass.HARD,
    "not_permitted": DeclineClass.HARD,
    "testmode_decline": DeclineClass.HARD,
}

_ADVICE: dict[str, DeclineClass] = {
    "do_not_try_again": DeclineClass.HARD,
    "confirm_card_data": DeclineClass.BUYER,
}


def classify(code: str | None, decline_code: str | None, advice_code: str | None) -> DeclineClass:
    """The class of one failure: advice code first, then decline code, then error code."""
    if advice_code in _ADVICE:
        return _ADVICE[advice_code]
    for key in (decline_code, code):
        if key and key in DECLINE_TABLE:
            return DECLINE_TABLE[key]
    return DeclineClass.BUYER


class DropReason(StrEnum):
    """Why a planned attempt will never run (its ``reason`` when stored as ``dropped``)."""

    AFTER_DEADLINE = "after_deadline"
    HARD_DECLINE = "hard_decline"


@dataclass(frozen=True)
class PlannedAttempt:
    number: int
    due_at: datetime
    dropped: DropReason | None  # why it will never run, or None


def plan_attempts(
    failed_at: datetime,
    deadline: datetime,
    offsets: list[timedelta],
    decline_class: DeclineClass,
) -> list[PlannedAttempt]:
    """The plan opened by a first failure at ``failed_at``: at most three attempts.

    An attempt at or after the deadline is kept as dropped (``after_deadline``). After a hard
    decline only the first attempt remains, moved to the failure time: it is the one message
    asking the buyer for another payment method; the others are dropped (``hard_decline``).
    """
    planned = []
    for number, offset in enumerate(sorted(offsets)[:MAX_ATTEMPTS], start=1):
        due = failed_at + offset
        dropped: DropReason | None = None
        if decline_class is DeclineClass.HARD and number > 1:
            dropped = DropReason.HARD_DECLINE
        elif decline_class is DeclineClass.HARD:
            due = failed_at
        if dropped is None and due >= deadline:
            dropped = DropReason.AFTER_DEADLINE
        planned.append(PlannedAttempt(number, due, dropped))
    return planned


@dataclass(frozen=True)
class RetryPolicy:
    """How retries run: the checkout they open links with, when the attempts of a plan fall
    (after the first failure), how long a run holds an attempt, how many a run executes."""

    checkout: CheckoutPolicy
    offsets: tuple[timedelta, ...] = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=18))
    lease: timedelta = timedelta(minutes=10)
    batch_size: int = 200
