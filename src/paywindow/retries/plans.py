"""Failed-payment retries: plans opened by first failures, kept inside the payment window.

Design:
- The first failure of an order (a ``payment_failures`` row, written when
  ``payment_intent.payment_failed`` or ``checkout.session.async_payment_failed`` is applied)
  opens **one plan per order**: at most three attempts at failure + 1 h, 6 h, 18 h
  (configurable). Attempts at or after the deadline are stored as ``dropped`` with the reason.
  Later failures never restart or extend the plan (the order id is the plan's key).
- A hard decline (see :data:`~paywindow.retries.policy.DECLINE_TABLE`) is never
  retried off-session: the next attempt becomes the one message asking the buyer for another
  payment method, due at once; the rest are dropped.
- A payment that succeeds closes the plan (remaining attempts ``cancelled``); a closed window
  closes it too (remaining attempts ``dropped``).
- The marketplace hears of a failure here, not when the decline is applied: once the plans are
  synced, each order still in ``payment_failed`` gets one ``order.payment_failed`` message for
  its latest failure, saying whether a retry is planned and when (docs/decisions.md,
  Notifications). A buyer who pays in the same session minutes after a decline is never told of
  it; a run that stops before announcing is made good by the next one.
- Attempts are claimed in the database with a conditional UPDATE (``status='scheduled'``, or
  ``running`` whose lease ran out), so two runs never execute the same attempt; Stripe calls
  carry an idempotency key per attempt, so even a lease that ran out sends the same request.
  Running an attempt lives in :mod:`paywindow.retries.attempt`.

Attempt status: ``scheduled`` → ``running`` → ``done`` (outcome ``succeeded``, ``processing``,
``declined``, ``link_sent``); or ``dropped`` / ``cancelled`` with a ``reason``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, update

from paywindow.errors import Conflict, NotFound
from paywindow.payments import OrderState
from paywindow.retries.announce import announce_failures
from paywindow.retries.policy import (
    DeclineClass,
    DropReason,
    classify,
    plan_attempts,
)
from paywindow.retries.states import CloseReason, PlanStatus, RetryKind, RetryStatus
from paywindow.store.sql import insert_ignoring_conflicts
from paywindow.store.tables import orders, payment_failures, retry_attempts, retry_plans

__all__ = [
    "CloseReason",
    "PlanStatus",
    "PlanSync",
    "RetryKind",
    "RetryStatus",
    "claim",
    "claim_next_for",
    "due_attempts",
    "release",
    "sync_plans",
]


@dataclass
class PlanSync:
    opened: list[str] = field(default_factory=list)
    hardened: list[str] = field(default_factory=list)
    closed: dict[str, CloseReason] = field(default_factory=dict)
    announced: list[str] = field(default_factory=list)


def sync_plans(engine: Engine, now: datetime, offsets: list[timedelta]) -> PlanSync:
    """Open plans for new first failures, react to hard declines, close finished plans, then
    announce each failed order's latest failure with what its plan decided."""
    result = PlanSync()
    for failure in _unplanned_failures(engine):
        if _open_plan(engine, failure, offsets, now):
            result.opened.append(failure["order_id"])
    result.hardened = _harden(engine, now)
    result.closed = _close_finished(engine, now)
    result.announced = announce_failures(engine, now)
    return result


def _unplanned_failures(engine: Engine) -> list[dict[str, Any]]:
    """The first failure of each unpaid, open order that has no plan yet."""
    query = (
        select(payment_failures, orders.c.deadline)
        .join(orders, orders.c.id == payment_failures.c.order_id)
        .outerjoin(retry_plans, retry_plans.c.order_id == payment_failures.c.order_id)
        .where(
            retry_plans.c.order_id.is_(None),
            orders.c.paid_at.is_(None),
            orders.c.window_closed_at.is_(None),
        )
        .order_by(payment_failures.c.failed_at, payment_failures.c.id)
    )
    first: dict[str, dict[str, Any]] = {}
    with engine.connect().execution_options(read_only=True) as conn:
        for row in conn.execute(query).mappings():
            first.setdefault(row["order_id"], dict(row))
    return list(first.values())


def _open_plan(
    engine: Engine, failure: dict[str, Any], offsets: list[timedelta], now: datetime
) -> bool:
    kind = classify(failure["code"], failure["decline_code"], failure["advice_code"])
    planned = plan_attempts(failure["failed_at"], failure["deadline"], offsets, kind)
    live = [p for p in planned if p.dropped is None]
    plan = {
        "order_id": failure["order_id"],
        "status": PlanStatus.OPEN if live else PlanStatus.CLOSED,
        "first_failed_at": failure["failed_at"],
        "failure_key": failure["failure_key"],
        "code": failure["code"],
        "decline_code": failure["decline_code"],
        "advice_code": failure["advice_code"],
        "decline_class": kind.value,
        "hard_declined_at": failure["failed_at"] if kind is DeclineClass.HARD else None,
        "opened_at": now,
        "closed_at": None if live else now,
        "close_reason": None if live else CloseReason.NO_ATTEMPTS,
    }
    with engine.begin() as conn:
        if not insert_ignoring_conflicts(conn, retry_plans, [plan]):
            return False  # another run opened it first
        conn.execute(
            retry_attempts.insert(),
            [
                _attempt_row(
                    failure["order_id"],
                    p.number,
                    RetryKind.ANOTHER_METHOD
                    if kind is DeclineClass.HARD and p.number == 1
                    else RetryKind.RETRY,
                    p.due_at,
                    p.dropped,
                    now,
                )
                for p in planned
            ],
        )
    return True


def _attempt_row(
    order_id: str,
    number: int,
    kind: RetryKind,
    due: datetime,
    dropped: DropReason | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "number": number,
        "kind": kind,
        "due_at": due,
        "status": RetryStatus.DROPPED if dropped else RetryStatus.SCHEDULED,
        "reason": dropped,
        "stripe_errors": 0,
        "manual": False,
        "created_at": now,
        "updated_at": now,
    }


def _harden(engine: Engine, now: datetime) -> list[str]:
    """Open plans that met a hard decline after they opened: one message, nothing else."""
    query = (
        select(retry_plans.c.order_id, payment_failures)
        .join(payment_failures, payment_failures.c.order_id == retry_plans.c.order_id)
        .where(retry_plans.c.status == PlanStatus.OPEN, retry_plans.c.hard_declined_at.is_(None))
    )
    hard: dict[str, datetime] = {}
    with engine.connect().execution_options(read_only=True) as conn:
        for row in conn.execute(query).mappings():
            kind = classify(row["code"], row["decline_code"], row["advice_code"])
            if kind is DeclineClass.HARD:
                hard[row["order_id"]] = min(hard.get(row["order_id"], now), row["failed_at"])
    for order_id, at in hard.items():
        with engine.begin() as conn:
            _harden_one(conn, order_id, at, now)
    return list(hard)


def _harden_one(conn: Connection, order_id: str, at: datetime, now: datetime) -> None:
    marked = conn.execute(
        update(retry_plans)
        .where(retry_plans.c.order_id == order_id, retry_plans.c.hard_declined_at.is_(None))
        .values(hard_declined_at=at)
    )
    if marked.rowcount != 1:
        return
    waiting = conn.execute(
        select(retry_attempts.c.id)
        .where(
            retry_attempts.c.order_id == order_id,
            retry_attempts.c.status == RetryStatus.SCHEDULED,
        )
        .order_by(retry_attempts.c.number)
    ).all()
    if not waiting:
        return
    first, rest = waiting[0].id, [row.id for row in waiting[1:]]
    conn.execute(
        update(retry_attempts)
        .where(retry_attempts.c.id == first, retry_attempts.c.status == RetryStatus.SCHEDULED)
        .values(kind=RetryKind.ANOTHER_METHOD, due_at=max(at, now), updated_at=now)
    )
    if rest:
        conn.execute(
            update(retry_attempts)
            .where(retry_attempts.c.id.in_(rest), retry_attempts.c.status == RetryStatus.SCHEDULED)
            .values(status=RetryStatus.DROPPED, reason=DropReason.HARD_DECLINE, updated_at=now)
        )


def _close_finished(engine: Engine, now: datetime) -> dict[str, CloseReason]:
    query = (
        select(retry_plans.c.order_id, orders.c.paid_at, orders.c.deadline, orders.c.state)
        .join(orders, orders.c.id == retry_plans.c.order_id)
        .add_columns(orders.c.window_closed_at)
        .where(retry_plans.c.status == PlanStatus.OPEN)
    )
    with engine.connect().execution_options(read_only=True) as conn:
        rows = conn.execute(query).mappings().all()
        pending = {
            r.order_id
            for r in conn.execute(
                select(retry_attempts.c.order_id).where(
                    retry_attempts.c.status.in_((RetryStatus.SCHEDULED, RetryStatus.RUNNING))
                )
            )
        }
    closed: dict[str, CloseReason] = {}
    for row in rows:
        reason = _close_reason(row, pending, now)
        if reason is not None:
            with engine.begin() as conn:
                close_plan(conn, row["order_id"], reason, now)
            closed[row["order_id"]] = reason
    return closed


def _close_reason(row: Any, pending: set[str], now: datetime) -> CloseReason | None:
    if row["paid_at"] is not None:
        return CloseReason.PAID
    if row["state"] == OrderState.PAYMENT_MISMATCH:
        return CloseReason.HELD_FOR_REVIEW
    if row["window_closed_at"] is not None or row["deadline"] <= now:
        return CloseReason.WINDOW_CLOSED
    if row["order_id"] not in pending:
        return CloseReason.EXHAUSTED
    return None


def close_plan(conn: Connection, order_id: str, reason: CloseReason, now: datetime) -> None:
    """Close the plan; attempts still waiting are cancelled (paid) or dropped (otherwise)."""
    conn.execute(
        update(retry_plans)
        .where(retry_plans.c.order_id == order_id, retry_plans.c.status == PlanStatus.OPEN)
        .values(status=PlanStatus.CLOSED, closed_at=now, close_reason=reason)
    )
    conn.execute(
        update(retry_attempts)
        .where(
            retry_attempts.c.order_id == order_id,
            retry_attempts.c.status == RetryStatus.SCHEDULED,
        )
        .values(
            status=RetryStatus.CANCELLED if reason == CloseReason.PAID else RetryStatus.DROPPED,
            reason=reason,
            updated_at=now,
        )
    )


def due_attempts(engine: Engine, now: datetime, limit: int) -> list[tuple[int, str]]:
    """(id, order id) of attempts due now (or whose claim lapsed), oldest due first."""
    query = (
        select(retry_attempts.c.id, retry_attempts.c.order_id)
        .where(_claimable(now), retry_attempts.c.due_at <= now)
        .order_by(retry_attempts.c.due_at, retry_attempts.c.id)
        .limit(limit)
    )
    with engine.connect().execution_options(read_only=True) as conn:
        return [(row.id, row.order_id) for row in conn.execute(query)]


def _claimable(now: datetime) -> Any:
    return or_(
        retry_attempts.c.status == RetryStatus.SCHEDULED,
        and_(retry_attempts.c.status == RetryStatus.RUNNING, retry_attempts.c.lease_until < now),
    )


def claim(
    engine: Engine, attempt_id: int, worker: str, now: datetime, lease: timedelta
) -> dict[str, Any] | None:
    """Take the attempt for ``worker`` (a conditional UPDATE: at most one run wins)."""
    with engine.begin() as conn:
        won = conn.execute(
            update(retry_attempts)
            .where(retry_attempts.c.id == attempt_id, _claimable(now))
            .values(
                status=RetryStatus.RUNNING,
                claimed_by=worker,
                lease_until=now + lease,
                updated_at=now,
            )
        )
        if won.rowcount != 1:
            return None
        row = conn.execute(select(retry_attempts).where(retry_attempts.c.id == attempt_id))
        return dict(row.mappings().one())


def claim_next_for(
    engine: Engine, order_id: str, worker: str, now: datetime, lease: timedelta
) -> dict[str, Any]:
    """Support's manual retry: claim the order's next scheduled attempt, due now."""
    with engine.connect().execution_options(read_only=True) as conn:
        if conn.execute(select(orders.c.id).where(orders.c.id == order_id)).first() is None:
            raise NotFound(f"no order {order_id}")
        plan = (
            conn.execute(select(retry_plans).where(retry_plans.c.order_id == order_id))
            .mappings()
            .first()
        )
        waiting = conn.execute(
            select(retry_attempts.c.id)
            .where(retry_attempts.c.order_id == order_id, _claimable(now))
            .order_by(retry_attempts.c.number)
            .limit(1)
        ).first()
    if plan is None:
        raise Conflict(f"order {order_id} has no failed payment: nothing to retry")
    if plan["status"] != PlanStatus.OPEN or waiting is None:
        reason = plan["close_reason"] or "no attempt left"
        raise Conflict(f"order {order_id} has no retry left (plan {plan['status']}: {reason})")
    claimed = claim(engine, waiting.id, worker, now, lease)
    if claimed is None:
        raise Conflict(f"order {order_id}: its next retry is running now")
    with engine.begin() as conn:
        conn.execute(
            update(retry_attempts)
            .where(retry_attempts.c.id == waiting.id)
            .values(manual=True, due_at=now)
        )
    return {**claimed, "manual": True, "due_at": now}


def release(engine: Engine, attempt_id: int, now: datetime, error: str | None = None) -> None:
    """Give a claimed attempt back unconsumed (Stripe failed, or the order is processing)."""
    values: dict[str, Any] = {
        "status": RetryStatus.SCHEDULED,
        "claimed_by": None,
        "lease_until": None,
        "updated_at": now,
    }
    if error is not None:
        values["stripe_errors"] = retry_attempts.c.stripe_errors + 1
        values["last_error"] = error[:2000]
    with engine.begin() as conn:
        conn.execute(update(retry_attempts).where(retry_attempts.c.id == attempt_id).values(values))
