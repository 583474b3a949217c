"""The retry vocabularies: plan and attempt statuses, attempt kinds, why a plan closed."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CloseReason", "PlanStatus", "RetryKind", "RetryStatus"]


class PlanStatus(StrEnum):
    """``retry_plans.status``."""

    OPEN = "open"
    CLOSED = "closed"


class RetryStatus(StrEnum):
    """``retry_attempts.status``: scheduled → running → done, or dropped / cancelled."""

    SCHEDULED = "scheduled"
    RUNNING = "running"
    DONE = "done"
    DROPPED = "dropped"
    CANCELLED = "cancelled"


class RetryKind(StrEnum):
    """``retry_attempts.kind``: a retry of the payment, or the one message asking the buyer
    for another payment method (after a hard decline)."""

    RETRY = "retry"
    ANOTHER_METHOD = "another_method"


class CloseReason(StrEnum):
    """Why a plan closed (``retry_plans.close_reason``; also the ``reason`` of the attempts
    it cancelled or dropped)."""

    PAID = "paid"
    HELD_FOR_REVIEW = "held_for_review"
    WINDOW_CLOSED = "window_closed"
    EXHAUSTED = "exhausted"
    NO_ATTEMPTS = "no_attempts"
