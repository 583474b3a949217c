"""The event processor: applies recorded Stripe events to orders, one transaction per event.

Design:
- Recording and applying are separate. The recorder commits the raw event as ``pending``; the
  processor picks due events (``pending`` or ``failed`` whose backoff has passed), and for each
  one, in a single transaction, locks the order, merges the event's facts, derives the state,
  writes audit rows and marks the event ``applied``. The event is never marked handled before
  the writes it caused are committed, because they are the same commit.
- A handler error rolls back to a savepoint and marks the event ``failed`` with its error and
  traceback, and a next attempt time (exponential backoff); other events go on.
- An event about a charge or dispute whose PaymentIntent no order has claimed yet waits
  (``pending`` with ``waiting_on``) and is woken as soon as an event links that PaymentIntent.
- Several processors may run at once: on PostgreSQL they skip rows another one holds
  (``FOR UPDATE SKIP LOCKED``); on SQLite every transaction starts with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Engine, or_, select, update

from paywindow.errors import EventError, OrderNotFound
from paywindow.observability import metrics
from paywindow.payments import Applies, OrderFacts, apply_change, find_order_by_payment, interpret
from paywindow.store.sql import backoff
from paywindow.store.tables import event_log

__all__ = [
    "EventStatus",
    "ProcessReport",
    "process_due",
    "process_events",
    "process_one",
    "replay",
]


class EventStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    IGNORED = "ignored"
    FAILED = "failed"


_RETRYABLE = (EventStatus.PENDING, EventStatus.FAILED)

log = logging.getLogger(__name__)

#: Events applied per commit on SQLite.
_SQLITE_BATCH = 50

#: How long an event may wait for the event that ties it to an order.
WAIT_LIMIT = timedelta(days=3)


@dataclass
class ProcessReport:
    """How many events ended in each status during one sweep."""

    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def process_due(
    engine: Engine, now: datetime, *, max_attempts: int = 12, limit: int = 200
) -> ProcessReport:
    """Apply every event that is due at ``now`` (up to ``limit``), oldest first.

    On SQLite, whose single writer serialises everything anyway, events are applied in
    batches that share one commit (each still inside its own savepoint), so the processor
    does not take the write lock and an fsync per event away from the recorder. On
    PostgreSQL each event has its own transaction, so two processors never deadlock on
    order locks taken in different orders.
    """
    query = (
        select(event_log.c.id)
        .where(event_log.c.status.in_(_RETRYABLE))
        .where(event_log.c.attempts < max_attempts)
        .where(or_(event_log.c.next_attempt_at.is_(None), event_log.c.next_attempt_at <= now))
        .order_by(event_log.c.id)
        .limit(limit)
    )
    batch = _SQLITE_BATCH if engine.dialect.name == "sqlite" else 1
    return _apply_rows(engine, query, now, batch)


def process_events(engine: Engine, event_ids: list[str], now: datetime) -> ProcessReport:
    """Apply the named events now (those still pending or failed), each in its own commit."""
    query = select(event_log.c.id).where(event_log.c.event_id.in_(event_ids))
    return _apply_rows(engine, query.order_by(event_log.c.id), now, 1)


def _apply_rows(engine: Engine, query: Any, now: datetime, batch: int) -> ProcessReport:
    """Apply the event rows ``query`` selects, ``batch`` of them per commit."""
    report = ProcessReport()
    with engine.connect().execution_options(read_only=True) as conn:
        ids = list(conn.execute(query).scalars())
    for start in range(0, len(ids), batch):
        with engine.begin() as conn:
            for row_id in ids[start : start + batch]:
                status = _process_in(conn, row_id, now)
                if status is not None:
                    report.counts[status] += 1
    return report


def process_one(engine: Engine, row_id: int, now: datetime) -> str | None:
    """Apply one recorded event; return its new status, or None if it was not due or taken."""
    with engine.begin() as conn:
        return _process_in(conn, row_id, now)


def _process_in(conn: Connection, row_id: int, now: datetime) -> str | None:
    query = select(event_log).where(event_log.c.id == row_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).mappings().first()
    if row is None or row["status"] not in _RETRYABLE:
        return None
    savepoint = conn.begin_nested()
    try:
        values = _apply(conn, row, now)
    except Exception as exc:
        savepoint.rollback()
        values = _failed(row, exc, now)
    else:
        savepoint.commit()
    conn.execute(update(event_log).where(event_log.c.id == row_id).values(**values))
    _observe(row, values, now)
    return str(values["status"])


def _observe(row: Any, values: dict[str, Any], now: datetime) -> None:
    """Metrics and a log line for one processed event (lag = now - received_at)."""
    status = str(values["status"])
    outcome = "waiting" if values.get("waiting_on") else status
    ids = {"event_id": row["event_id"], "event_type": row["type"]}
    ids["order_id"] = values.get("order_id") or row["order_id"]
    metrics().increment("events.processed", tags={"status": outcome, "type": row["type"]})
    if status == EventStatus.APPLIED:
        lag = (now - row["received_at"]).total_seconds()
        metrics().distribution("events.processing_lag_seconds", lag, tags={"type": row["type"]})
    if status == EventStatus.FAILED:
        extra = {**ids, "attempts": values["attempts"]}
        log.warning("event failed: %s", values["last_error"], extra=extra)
    else:
        log.debug("event %s", outcome, extra=ids)


def _apply(conn: Connection, row: Any, now: datetime) -> dict[str, Any]:
    try:  # the recorder's parser and depth limit: whatever it acknowledged parses here
        payload = orjson.loads(row["body"])
    except orjson.JSONDecodeError as exc:
        raise EventError(f"stored body is not JSON: {exc}") from exc
    meaning = interpret(payload)
    if not isinstance(meaning, Applies):
        return _done(EventStatus.IGNORED, now, note=meaning.reason)
    order_id = meaning.order_id or find_order_by_payment(
        conn, meaning.payment_intent, meaning.charge
    )
    if order_id is None:
        return _waiting(row, meaning, now)
    try:
        applied = apply_change(conn, order_id, meaning.change, now=now, event_id=row["event_id"])
    except OrderNotFound:
        note = f"names order {order_id[:64]!r}, which paywindow does not hold"
        return _done(EventStatus.IGNORED, now, note=note)
    _wake(conn, applied.old, applied.new, now)
    if applied.new.held is not None and applied.old.held is None:
        _held(row, order_id, applied.new.held)
        return _done(EventStatus.APPLIED, now, order_id=order_id, note=applied.new.held)
    return _done(EventStatus.APPLIED, now, order_id=order_id)


def _held(row: Any, order_id: str, reason: str) -> None:
    """A payment that is not the order's: held for finance, counted and logged loudly."""
    metrics().increment("payments.held_for_review", tags={"type": row["type"]})
    extra = {"event_id": row["event_id"], "order_id": order_id, "reason": reason}
    log.warning("payment held for review: %s", reason, extra=extra)


def _done(status: EventStatus, now: datetime, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": status,
        "processed_at": now,
        "next_attempt_at": None,
        "waiting_on": None,
        "last_error": None,
        "last_traceback": None,
        "note": None,
    }
    values.update(extra)
    return values


def _waiting(row: Any, meaning: Applies, now: datetime) -> dict[str, Any]:
    """Park an event until another event ties its PaymentIntent or charge to an order.

    It is retried after as long as it has waited so far (2 s to 1 h), and given up as not
    paywindow's once it has waited longer than Stripe keeps redelivering (three days).
    """
    key = meaning.payment_intent or meaning.charge
    if key is None:
        return _done(EventStatus.IGNORED, now, note="names no order, payment intent or charge")
    waited = now - row["received_at"]
    if waited > WAIT_LIMIT:
        note = f"no paywindow order claimed {key} within {WAIT_LIMIT.days} days"
        return _done(EventStatus.IGNORED, now, note=note)
    delay = min(max(waited, timedelta(seconds=2)), timedelta(hours=1))
    return {
        "status": EventStatus.PENDING,
        "waiting_on": key,
        "next_attempt_at": now + delay,
        "note": f"waiting for an event that ties {key} to an order",
    }


def _failed(row: Any, exc: BaseException, now: datetime) -> dict[str, Any]:
    attempts = row["attempts"] + 1
    return {
        "status": EventStatus.FAILED,
        "attempts": attempts,
        "next_attempt_at": now + backoff(attempts),
        "last_error": f"{type(exc).__name__}: {exc}",
        "last_traceback": "".join(traceback.format_exception(exc)),
        "order_id": exc.order_id if isinstance(exc, OrderNotFound) else None,
    }


def _wake(conn: Connection, old: OrderFacts, new: OrderFacts, now: datetime) -> None:
    """Make events waiting on a PaymentIntent or charge this change just linked due now."""
    keys = {a.payment_intent for a in new.attempts} | {new.payment_intent, new.charge}
    keys -= {a.payment_intent for a in old.attempts} | {old.payment_intent, old.charge}
    keys.discard(None)
    if keys:
        conn.execute(
            update(event_log)
            .where(event_log.c.waiting_on.in_(keys))
            .where(event_log.c.status == EventStatus.PENDING)
            .values(next_attempt_at=now)
        )


def replay(
    engine: Engine,
    now: datetime,
    *,
    event_ids: list[str] | None = None,
    failed: bool = False,
    since: datetime | None = None,
) -> int:
    """Make the chosen events pending again (attempts reset) so the next sweep re-applies them.

    Re-applying an applied event is harmless: merging facts is idempotent.
    """
    conditions: list[ColumnElement[bool]] = []
    if event_ids:
        conditions.append(event_log.c.event_id.in_(event_ids))
    if failed:
        conditions.append(event_log.c.status == EventStatus.FAILED)
    if since is not None:
        conditions.append(event_log.c.received_at >= since)
    if not conditions:
        return 0
    with engine.begin() as conn:
        result = conn.execute(
            update(event_log)
            .where(or_(*conditions))
            .values(status=EventStatus.PENDING, attempts=0, next_attempt_at=None, waiting_on=None)
        )
        return int(result.rowcount or 0)
