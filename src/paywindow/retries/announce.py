"""Telling the marketplace of a failed payment, once the retry plan has decided what follows:
``order.payment_failed`` with the decline, whether a retry is planned, when and of which kind.

Written by every plan sync (a schedule-retries run, a manual retry), one message per failure
that is its order's latest while the order is still failed, in a transaction that locks the
order and reads the plan, so the message never contradicts it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from paywindow.payments import OrderState
from paywindow.retries.policy import MAX_ATTEMPTS, DeclineClass, classify
from paywindow.retries.states import PlanStatus, RetryStatus
from paywindow.store.outbox import write_message
from paywindow.store.tables import orders, outbox, payment_failures, retry_attempts, retry_plans

__all__ = ["FAILED_TOPIC", "announce_failures", "failure_payload"]


FAILED_TOPIC = "order.payment_failed"


def _failure_key(order_id: str, failure_id: int) -> str:
    return f"{FAILED_TOPIC}:{order_id}:{failure_id}"


def announce_failures(engine: Engine, now: datetime) -> list[str]:
    """One ``order.payment_failed`` per failure that is the latest of an order still failed."""
    query = (
        select(payment_failures.c.id, payment_failures.c.order_id)
        .join(orders, orders.c.id == payment_failures.c.order_id)
        .join(retry_plans, retry_plans.c.order_id == payment_failures.c.order_id)
        .where(orders.c.state == OrderState.PAYMENT_FAILED.value)
        .order_by(payment_failures.c.failed_at, payment_failures.c.id)
    )
    with engine.connect().execution_options(read_only=True) as conn:
        latest = {row.order_id: row.id for row in conn.execute(query)}
        keys = {_failure_key(o, f): (o, f) for o, f in latest.items()}
        told: set[str] = set()
        names = list(keys)
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            found = select(outbox.c.dedupe_key).where(outbox.c.dedupe_key.in_(chunk))
            told.update(conn.execute(found).scalars())
    announced = []
    for key, (order_id, failure_id) in keys.items():
        if key in told:
            continue
        with engine.begin() as conn:
            if _announce_one(conn, order_id, failure_id, now):
                announced.append(order_id)
    return announced


def _announce_one(conn: Connection, order_id: str, failure_id: int, now: datetime) -> bool:
    """Write the message if the order is still failed (re-read, locked, in this transaction)."""
    query = select(orders).where(orders.c.id == order_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    order = conn.execute(query).mappings().one()
    if order["state"] != OrderState.PAYMENT_FAILED:
        return False
    failure = (
        conn.execute(select(payment_failures).where(payment_failures.c.id == failure_id))
        .mappings()
        .one()
    )
    plan = select(retry_plans.c.status).where(retry_plans.c.order_id == order_id)
    plan_open = conn.execute(plan).scalar_one() == PlanStatus.OPEN
    waiting = list(
        conn.execute(
            select(retry_attempts)
            .where(
                retry_attempts.c.order_id == order_id,
                retry_attempts.c.status.in_((RetryStatus.SCHEDULED, RetryStatus.RUNNING)),
            )
            .order_by(retry_attempts.c.number)
        ).mappings()
    )
    if not plan_open:
        waiting = []
    return write_message(
        conn,
        topic=FAILED_TOPIC,
        dedupe_key=_failure_key(order_id, failure_id),
        payload=failure_payload(order, failure, waiting, now),
        now=now,
        order_id=order_id,
    )


def failure_payload(order: Any, failure: Any, waiting: list[Any], now: datetime) -> dict[str, Any]:
    """The ``order.payment_failed`` data (schema: ``paywindow/notify/schemas``): the failure,
    its class, and the plan's next attempt (``waiting``: scheduled attempts, in order)."""
    kind = classify(failure["code"], failure["decline_code"], failure["advice_code"])
    following = waiting[0] if waiting else None
    if kind is DeclineClass.HARD:
        advice = "use_another_payment_method"
    else:
        advice = "retry_scheduled" if following is not None else "no_retry"
    return {
        "order_id": order["id"],
        "state": OrderState.PAYMENT_FAILED.value,
        "at": now.isoformat(),
        "amount_total": order["amount_total"],
        "currency": order["currency"],
        "failed_at": failure["failed_at"].isoformat(),
        "attempt": failure["attempt"],
        "code": failure["code"],
        "decline_code": failure["decline_code"],
        "advice_code": failure["advice_code"],
        "message": failure["message"],
        "decline_class": kind.value,
        "advice": advice,
        "retry_planned": following is not None,
        "next_retry_at": max(following["due_at"], now).isoformat() if following else None,
        "next_retry": following["number"] if following else None,
        "next_retry_kind": str(following["kind"]) if following else None,
        "retries_left": len(waiting),
        "max_retries": MAX_ATTEMPTS,
        "deadline": order["deadline"].isoformat(),
    }
