"""paywindow's metadata on the Stripe objects it creates: the keys, built in one place.

Sessions, their PaymentIntents (through ``payment_intent_data``) and off-session PaymentIntents
carry the order and the order attempt; refunds carry the order and why it was made. The event
reader (``payments.stripe_events``) reads the same keys.
"""

from __future__ import annotations

__all__ = ["ATTEMPT_KEY", "ORDER_KEY", "REASON_KEY", "order_metadata", "refund_metadata"]

ORDER_KEY = "paywindow_order_id"
ATTEMPT_KEY = "paywindow_attempt"
REASON_KEY = "paywindow_reason"


def order_metadata(order_id: str, attempt: int) -> dict[str, str]:
    """Metadata of a session or PaymentIntent made for ``attempt`` of ``order_id``."""
    return {ORDER_KEY: order_id, ATTEMPT_KEY: str(attempt)}


def refund_metadata(order_id: str, reason: str) -> dict[str, str]:
    """Metadata of a refund paywindow makes for ``order_id`` (``reason``: late_payment, ...)."""
    return {ORDER_KEY: order_id, REASON_KEY: reason}
