"""Payment outcomes: what a buyer's card (or async method) does when it is charged.

The decline table follows the reference (§5.1-5.2): ``code``, ``decline_code``, ``param``,
``advice_code`` and the customer-facing message Stripe returns. Lost, stolen and fraudulent
cards show the generic message, as Stripe does not reveal them to the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paywindow.sandbox.wire import Obj, invalid

__all__ = ["DECLINES", "MAGIC_PAYMENT_METHODS", "Outcome", "decline_fields", "parse_outcome"]


@dataclass(frozen=True)
class Decline:
    """One card decline as Stripe reports it."""

    code: str
    decline_code: str
    param: str | None
    advice_code: str | None
    message: str
    last4: str


_GENERIC = "Your card was declined."
DECLINES: dict[str, Decline] = {
    d.decline_code: d
    for d in (
        Decline("card_declined", "generic_decline", None, "try_again_later", _GENERIC, "0002"),
        Decline(
            "card_declined",
            "insufficient_funds",
            None,
            "try_again_later",
            "Your card has insufficient funds.",
            "9995",
        ),
        Decline("card_declined", "do_not_honor", None, "do_not_try_again", _GENERIC, "0036"),
        Decline(
            "expired_card",
            "expired_card",
            "exp_month",
            "confirm_card_data",
            "Your card has expired.",
            "0069",
        ),
        Decline(
            "incorrect_cvc",
            "incorrect_cvc",
            "cvc",
            "confirm_card_data",
            "Your card's security code is incorrect.",
            "0127",
        ),
        Decline(
            "processing_error",
            "processing_error",
            None,
            "try_again_later",
            "An error occurred while processing your card. Try again in a little bit.",
            "0119",
        ),
        Decline("card_declined", "stolen_card", None, "do_not_try_again", _GENERIC, "9979"),
        Decline("card_declined", "lost_card", None, "do_not_try_again", _GENERIC, "9987"),
        Decline("card_declined", "fraudulent", None, None, _GENERIC, "0019"),
        Decline(
            "authentication_required",
            "authentication_required",
            None,
            None,
            "Your card was declined. This transaction requires authentication.",
            "3155",
        ),
    )
}


@dataclass(frozen=True)
class Outcome:
    """What one payment attempt does.

    ``kind`` is ``success`` or ``decline`` (``decline_code`` names the row of ``DECLINES``);
    ``async_`` is ``settle`` or ``fail`` for a delayed-notification method that settles after
    ``settle_after`` seconds of sandbox time.
    """

    kind: str = "success"
    decline_code: str | None = None
    async_: str | None = None
    settle_after: int = 3 * 86_400

    def to_json(self) -> Obj:
        return {
            "outcome": self.kind,
            "decline_code": self.decline_code,
            "async": self.async_,
            "settle_after": self.settle_after,
        }


def parse_outcome(data: dict[str, Any]) -> Outcome:
    """Read an outcome from control-API JSON (``authentication_required`` is a decline)."""
    kind = str(data.get("outcome", "success"))
    code = data.get("decline_code")
    if kind == "authentication_required":
        kind, code = "decline", "authentication_required"
    if kind == "decline":
        code = code or "generic_decline"
        if code not in DECLINES:
            raise invalid(f"Unknown decline_code: {code}", "decline_code")
    elif kind != "success":
        raise invalid(f"Unknown outcome: {kind}", "outcome")
    async_ = data.get("async")
    if async_ not in (None, "settle", "fail"):
        raise invalid(f"Unknown async behaviour: {async_}", "async")
    settle_after = int(data.get("settle_after", 3 * 86_400))
    return Outcome(kind, code if kind == "decline" else None, async_, settle_after)


def decline_fields(outcome: Outcome) -> Decline:
    """The decline row of a declining outcome."""
    return DECLINES[outcome.decline_code or "generic_decline"]


MAGIC_PAYMENT_METHODS: dict[str, Outcome] = {
    "pm_card_visa": Outcome(),
    "pm_card_mastercard": Outcome(),
    "pm_card_visa_chargeDeclined": Outcome("decline", "generic_decline"),
    "pm_card_visa_chargeDeclinedInsufficientFunds": Outcome("decline", "insufficient_funds"),
    "pm_card_visa_chargeDeclinedLostCard": Outcome("decline", "lost_card"),
    "pm_card_visa_chargeDeclinedStolenCard": Outcome("decline", "stolen_card"),
    "pm_card_chargeDeclinedExpiredCard": Outcome("decline", "expired_card"),
    "pm_card_chargeDeclinedIncorrectCvc": Outcome("decline", "incorrect_cvc"),
    "pm_card_chargeDeclinedProcessingError": Outcome("decline", "processing_error"),
    "pm_card_chargeDeclinedFraudulent": Outcome("decline", "fraudulent"),
    "pm_card_authenticationRequired": Outcome("decline", "authentication_required"),
}
