"""What Stripe has told us about an order, merged so that arrival order does not matter.

Design: every event is reduced to a :class:`Change`, and a change is merged into
:class:`OrderFacts` with operations that are commutative, associative and idempotent
(minimum of times, maximum of amounts, maximum of a status by precedence, set union).
The order's state is then *derived* from the facts by :func:`derive_state`. So any
permutation of a stream of events, with any duplicates, yields the same facts and therefore
the same state; a stale event can only add what is already known.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from paywindow.payments.states import OrderState

__all__ = [
    "AttemptChannel",
    "AttemptFacts",
    "AttemptStatus",
    "Change",
    "DisputeStatus",
    "FailureFacts",
    "OrderFacts",
    "derive_state",
    "merge",
    "mismatch",
]

#: A Checkout Session expiring this close to the deadline means the window itself closed.
WINDOW_CLOSE_SLACK = timedelta(seconds=1)


class AttemptStatus(StrEnum):
    """Status of one payment attempt (the ``attempts.status`` codes); merging keeps the one of
    higher :attr:`rank` (the order the members are listed in)."""

    OPEN = "open"
    EXPIRED = "expired"
    PROCESSING = "processing"
    FAILED = "failed"
    PAID = "paid"

    @property
    def rank(self) -> int:
        return _ATTEMPT_RANK[self]


class DisputeStatus(StrEnum):
    """Dispute status (the ``orders.dispute_status`` codes) by :attr:`rank`: a closed dispute
    never reopens."""

    NONE = "none"
    OPEN = "open"
    WON = "won"
    LOST = "lost"

    @property
    def rank(self) -> int:
        return _DISPUTE_RANK[self]


_ATTEMPT_RANK: dict[AttemptStatus, int] = {status: n for n, status in enumerate(AttemptStatus)}
_DISPUTE_RANK: dict[DisputeStatus, int] = {status: n for n, status in enumerate(DisputeStatus)}


class AttemptChannel(StrEnum):
    """How an attempt asks for the money (the ``attempts.channel`` and
    ``retry_attempts.channel`` codes): the first Checkout Session, a retry link to a new
    session, or an off-session charge of a saved card."""

    CHECKOUT = "checkout"
    LINK = "link"
    OFF_SESSION = "off_session"


@dataclass(frozen=True)
class AttemptFacts:
    attempt: int
    session_id: str | None = None
    payment_intent: str | None = None
    status: AttemptStatus = AttemptStatus.OPEN
    expires_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass(frozen=True)
class FailureFacts:
    """One declined or failed payment; ``key`` identifies it across duplicate events."""

    key: str
    attempt: int
    failed_at: datetime
    payment_intent: str | None = None
    charge: str | None = None
    code: str | None = None
    decline_code: str | None = None
    advice_code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Change:
    """What one event says about one order. Every field is optional."""

    attempt: int | None = None
    session_id: str | None = None
    payment_intent: str | None = None
    attempt_status: AttemptStatus | None = None
    expires_at: datetime | None = None
    completed_at: datetime | None = None
    paid: bool = False
    charge: str | None = None
    amount_charged: int | None = None
    amount_refunded: int | None = None
    dispute: str | None = None
    dispute_status: DisputeStatus = DisputeStatus.NONE
    failure: FailureFacts | None = None
    window_closed_at: datetime | None = None
    #: When Stripe expired the session (the event's time), not when it was planned to end.
    expired_at: datetime | None = None
    #: The currency of the payment the event reports (checked against the order's).
    currency: str | None = None


@dataclass(frozen=True)
class OrderFacts:
    order_id: str
    deadline: datetime
    amount_total: int
    current_attempt: int = 1
    window_closed_at: datetime | None = None
    paid_at: datetime | None = None
    payment_intent: str | None = None
    charge: str | None = None
    amount_charged: int | None = None
    amount_refunded: int = 0
    dispute: str | None = None
    dispute_status: DisputeStatus = DisputeStatus.NONE
    attempts: tuple[AttemptFacts, ...] = ()
    failures: frozenset[FailureFacts] = field(default_factory=frozenset)
    currency: str | None = None
    #: Why a payment that does not match the order holds it for review (never ``paid``).
    held: str | None = None


def _attempt_rank(status: AttemptStatus) -> int:
    return status.rank


def _dispute_rank(status: DisputeStatus) -> int:
    return status.rank


def _min(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _first(a: str | None, b: str | None) -> str | None:
    """Deterministic choice between two ids (the smaller), so merging is commutative."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _merge_attempt(facts: OrderFacts, change: Change) -> tuple[AttemptFacts, ...]:
    if change.attempt is None:
        return facts.attempts
    by_number = {a.attempt: a for a in facts.attempts}
    old = by_number.get(change.attempt, AttemptFacts(attempt=change.attempt))
    status = max(old.status, change.attempt_status or AttemptStatus.OPEN, key=_attempt_rank)
    by_number[change.attempt] = AttemptFacts(
        attempt=change.attempt,
        session_id=_first(old.session_id, change.session_id),
        payment_intent=_first(old.payment_intent, change.payment_intent),
        status=status,
        expires_at=_min(old.expires_at, change.expires_at),
        completed_at=_min(old.completed_at, change.completed_at),
    )
    return tuple(by_number[n] for n in sorted(by_number))


def mismatch(facts: OrderFacts, change: Change) -> str | None:
    """Why a payment ``change`` reports cannot count for this order, or None if it can.

    A payment counts only if it belongs to one of the order's attempts (the attempt exists and
    its session and PaymentIntent are unset or the same) and its amount and currency are the
    order's. Changes that report no payment are never a mismatch.
    """
    pays = change.paid or change.attempt_status in (AttemptStatus.PAID, AttemptStatus.PROCESSING)
    if not pays:
        return None
    if change.attempt is not None:
        known = {a.attempt: a for a in facts.attempts}.get(change.attempt)
        if known is None:
            return f"attempt {change.attempt} is not one of the order's attempts"
        for name in ("session_id", "payment_intent"):
            ours, theirs = getattr(known, name), getattr(change, name)
            if ours is not None and theirs is not None and ours != theirs:
                return f"{theirs} is not attempt {change.attempt}'s {name} ({ours})"
    if change.amount_charged is not None and change.amount_charged != facts.amount_total:
        return f"amount {change.amount_charged} is not the order's {facts.amount_total}"
    if change.currency and facts.currency and change.currency.lower() != facts.currency.lower():
        return f"currency {change.currency.lower()} is not the order's {facts.currency.lower()}"
    return None


def merge(facts: OrderFacts, change: Change) -> OrderFacts:
    """Return ``facts`` with ``change`` merged in (commutative, associative, idempotent).

    A payment that does not match the order (:func:`mismatch`) is not merged: it holds the
    order for review instead.
    """
    reason = mismatch(facts, change)
    if reason is not None:
        return replace(facts, held=_first(facts.held, reason))
    attempts = _merge_attempt(facts, change)
    paid_times = [a.completed_at for a in attempts if a.status is AttemptStatus.PAID]
    paid_at = facts.paid_at
    if change.paid:
        paid_at = _min(paid_at, change.completed_at)
    for when in paid_times:
        paid_at = _min(paid_at, when)
    window_closed_at = _min(facts.window_closed_at, change.window_closed_at)
    if (
        change.attempt_status is AttemptStatus.EXPIRED
        and change.expired_at is not None
        and change.expired_at >= facts.deadline - WINDOW_CLOSE_SLACK
    ):
        window_closed_at = _min(window_closed_at, change.expired_at)
    failures = facts.failures
    if change.failure is not None and change.failure.key not in {f.key for f in failures}:
        failures = failures | {change.failure}
    dispute_status = max(facts.dispute_status, change.dispute_status, key=_dispute_rank)
    return replace(
        facts,
        current_attempt=max(facts.current_attempt, change.attempt or 1),
        window_closed_at=window_closed_at,
        paid_at=paid_at,
        payment_intent=_first(facts.payment_intent, change.payment_intent if change.paid else None),
        charge=_first(facts.charge, change.charge),
        amount_charged=max(facts.amount_charged or 0, change.amount_charged or 0) or None,
        amount_refunded=max(facts.amount_refunded, change.amount_refunded or 0),
        dispute=_first(facts.dispute, change.dispute),
        dispute_status=dispute_status,
        attempts=attempts,
        failures=failures,
    )


def derive_state(facts: OrderFacts) -> OrderState:
    """The order state the facts imply.

    Precedence: held for review > paid > processing > expired > failed.
    """
    if facts.held is not None:
        return OrderState.PAYMENT_MISMATCH
    if facts.paid_at is not None:
        return _paid_state(facts)
    if any(a.status is AttemptStatus.PROCESSING for a in facts.attempts):
        return OrderState.PROCESSING
    if facts.window_closed_at is not None:
        return OrderState.EXPIRED
    current = facts.current_attempt
    failed = any(f.attempt == current for f in facts.failures) or any(
        a.attempt == current and a.status is AttemptStatus.FAILED for a in facts.attempts
    )
    return OrderState.PAYMENT_FAILED if failed else OrderState.AWAITING_PAYMENT


def _paid_state(facts: OrderFacts) -> OrderState:
    assert facts.paid_at is not None
    charged = facts.amount_charged or facts.amount_total
    fully_refunded = facts.amount_refunded > 0 and facts.amount_refunded >= charged
    if facts.paid_at > facts.deadline:
        return OrderState.LATE_PAYMENT_REFUNDED if fully_refunded else OrderState.EXPIRED
    if facts.dispute_status is DisputeStatus.WON:
        return OrderState.DISPUTE_WON
    if facts.dispute_status is DisputeStatus.LOST:
        return OrderState.DISPUTE_LOST
    if facts.dispute_status is DisputeStatus.OPEN:
        return OrderState.DISPUTED
    if fully_refunded:
        return OrderState.REFUNDED
    if facts.amount_refunded > 0:
        return OrderState.PARTIALLY_REFUNDED
    return OrderState.PAID
