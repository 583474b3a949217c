"""The message catalogue: every topic paywindow sends the marketplace."""

from __future__ import annotations

__all__ = ["TOPICS"]

#: Every topic, in the order docs/notifications.md lists them.
TOPICS = (
    "order.paid",
    "order.processing",
    "order.payment_failed",
    "payment.retry_link",
    "order.expired",
    "order.late_payment_refunded",
    "order.refunded",
    "order.partially_refunded",
    "order.disputed",
    "order.dispute_won",
    "order.dispute_lost",
    "order.payment_held",
    "receipt.generated",
)
