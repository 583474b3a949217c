"""The order lifecycle: states, facts, Stripe's events read as changes, applying them, the
order lease, checkout, the payment window and its enforcement.

Siblings and shells import these names from here (see ``paywindow._faces``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paywindow._faces import face

if TYPE_CHECKING:
    from paywindow.payments.apply import apply_change
    from paywindow.payments.checkout import (
        CheckoutPolicy,
        RecordSession,
        checkout_request,
        close_open_sessions,
        ensure_checkout,
    )
    from paywindow.payments.expiry import (
        DeadlineTimer,
        close_overdue,
        close_window,
        expire_stripe_sessions,
        refund_late_payments,
    )
    from paywindow.payments.facts import (
        AttemptChannel,
        AttemptStatus,
        Change,
        FailureFacts,
        OrderFacts,
    )
    from paywindow.payments.lease import OrderBusy, order_lease
    from paywindow.payments.orders import LineItem, OrderRequest, open_order, order_view
    from paywindow.payments.repository import find_order_by_payment, get_order
    from paywindow.payments.states import OrderState
    from paywindow.payments.stripe_events import MAX_CREATED, Applies, interpret
    from paywindow.payments.window import OPEN_STATES, session_expires_at

__all__ = [
    "MAX_CREATED",
    "OPEN_STATES",
    "Applies",
    "AttemptChannel",
    "AttemptStatus",
    "Change",
    "CheckoutPolicy",
    "DeadlineTimer",
    "FailureFacts",
    "LineItem",
    "OrderBusy",
    "OrderFacts",
    "OrderRequest",
    "OrderState",
    "RecordSession",
    "apply_change",
    "checkout_request",
    "close_open_sessions",
    "close_overdue",
    "close_window",
    "ensure_checkout",
    "expire_stripe_sessions",
    "find_order_by_payment",
    "get_order",
    "interpret",
    "open_order",
    "order_lease",
    "order_view",
    "refund_late_payments",
    "session_expires_at",
]

__getattr__ = face(
    __name__,
    {
        "DeadlineTimer": "expiry",
        "close_overdue": "expiry",
        "close_window": "expiry",
        "expire_stripe_sessions": "expiry",
        "refund_late_payments": "expiry",
        "Applies": "stripe_events",
        "AttemptChannel": "facts",
        "AttemptStatus": "facts",
        "Change": "facts",
        "CheckoutPolicy": "checkout",
        "FailureFacts": "facts",
        "LineItem": "orders",
        "MAX_CREATED": "stripe_events",
        "OPEN_STATES": "window",
        "OrderBusy": "lease",
        "OrderFacts": "facts",
        "OrderRequest": "orders",
        "OrderState": "states",
        "RecordSession": "checkout",
        "apply_change": "apply",
        "checkout_request": "checkout",
        "close_open_sessions": "checkout",
        "ensure_checkout": "checkout",
        "find_order_by_payment": "repository",
        "get_order": "repository",
        "interpret": "stripe_events",
        "open_order": "orders",
        "order_lease": "lease",
        "order_view": "orders",
        "session_expires_at": "window",
    },
)
