"""Reading and writing orders and their facts (SQLAlchemy Core; SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from paywindow.errors import NotFound, OrderNotFound
from paywindow.payments.facts import (
    AttemptFacts,
    AttemptStatus,
    DisputeStatus,
    FailureFacts,
    OrderFacts,
)
from paywindow.payments.states import TRANSITIONS, OrderState
from paywindow.store.sql import insert_ignoring_conflicts
from paywindow.store.tables import attempts, order_transitions, orders, payment_failures

__all__ = [
    "NewOrder",
    "create_order",
    "find_order_by_payment",
    "get_order",
    "load_facts",
    "save_facts",
]


@dataclass(frozen=True)
class NewOrder:
    """An order as the marketplace opens it; amounts in minor units of ``currency``."""

    id: str
    currency: str
    amount_total: int
    application_fee_amount: int
    seller_account: str
    buyer_id: str
    deadline: datetime
    buyer_email: str | None = None
    customer: str | None = None
    request_hash: str | None = None
    locale: str | None = None
    seller_name: str | None = None


def create_order(conn: Connection, order: NewOrder, now: datetime) -> bool:
    """Insert the order in ``awaiting_payment``; False if an order with that id exists."""
    row = {
        "id": order.id,
        "state": OrderState.AWAITING_PAYMENT.value,
        "currency": order.currency.lower(),
        "amount_total": order.amount_total,
        "application_fee_amount": order.application_fee_amount,
        "seller_account": order.seller_account,
        "buyer_id": order.buyer_id,
        "buyer_email": order.buyer_email,
        "customer": order.customer,
        "request_hash": order.request_hash,
        "locale": order.locale,
        "seller_name": order.seller_name,
        "deadline": order.deadline,
        "current_attempt": 1,
        "amount_refunded": 0,
        "created_at": now,
        "updated_at": now,
    }
    return insert_ignoring_conflicts(conn, orders, [row]) == 1


def get_order(conn: Connection, order_id: str) -> dict[str, Any]:
    """The order row with its attempts, failures and transitions, for admin views."""
    row = conn.execute(select(orders).where(orders.c.id == order_id)).mappings().first()
    if row is None:
        raise NotFound(f"no order {order_id}")
    result = dict(row)
    result["attempts"] = [
        dict(r)
        for r in conn.execute(
            select(attempts).where(attempts.c.order_id == order_id).order_by(attempts.c.attempt)
        ).mappings()
    ]
    result["failures"] = [
        dict(r)
        for r in conn.execute(
            select(payment_failures)
            .where(payment_failures.c.order_id == order_id)
            .order_by(payment_failures.c.failed_at, payment_failures.c.id)
        ).mappings()
    ]
    result["transitions"] = [
        dict(r)
        for r in conn.execute(
            select(order_transitions)
            .where(order_transitions.c.order_id == order_id)
            .order_by(order_transitions.c.id)
        ).mappings()
    ]
    return result


def find_order_by_payment(
    conn: Connection, payment_intent: str | None, charge: str | None
) -> str | None:
    """The order a PaymentIntent or charge belongs to, if an earlier event linked them."""
    if payment_intent:
        found = conn.execute(
            select(attempts.c.order_id).where(attempts.c.payment_intent == payment_intent)
        ).scalar()
        if found is None:
            found = conn.execute(
                select(orders.c.id).where(orders.c.payment_intent == payment_intent)
            ).scalar()
        if found is not None:
            return str(found)
    if charge:
        found = conn.execute(select(orders.c.id).where(orders.c.charge == charge)).scalar()
        if found is None:
            found = conn.execute(
                select(payment_failures.c.order_id).where(payment_failures.c.charge == charge)
            ).scalar()
        if found is not None:
            return str(found)
    return None


def load_facts(conn: Connection, order_id: str) -> tuple[OrderState, OrderFacts]:
    """The order's stored state and facts, locking its row on PostgreSQL."""
    query = select(orders).where(orders.c.id == order_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise OrderNotFound(order_id)
    attempt_rows = conn.execute(select(attempts).where(attempts.c.order_id == order_id)).mappings()
    failure_rows = conn.execute(
        select(payment_failures).where(payment_failures.c.order_id == order_id)
    ).mappings()
    facts = OrderFacts(
        order_id=order_id,
        deadline=row["deadline"],
        amount_total=row["amount_total"],
        current_attempt=row["current_attempt"],
        window_closed_at=row["window_closed_at"],
        paid_at=row["paid_at"],
        payment_intent=row["payment_intent"],
        charge=row["charge"],
        amount_charged=row["amount_charged"],
        amount_refunded=row["amount_refunded"],
        dispute=row["dispute"],
        dispute_status=DisputeStatus[(row["dispute_status"] or "none").upper()],
        attempts=tuple(sorted((_attempt(a) for a in attempt_rows), key=lambda a: a.attempt)),
        failures=frozenset(_failure(f) for f in failure_rows),
        currency=row["currency"],
        held=row["held_reason"],
    )
    return OrderState(row["state"]), facts


def _attempt(row: Any) -> AttemptFacts:
    return AttemptFacts(
        attempt=row["attempt"],
        session_id=row["session_id"],
        payment_intent=row["payment_intent"],
        status=AttemptStatus[row["status"].upper()],
        expires_at=row["expires_at"],
        completed_at=row["completed_at"],
    )


def _failure(row: Any) -> FailureFacts:
    return FailureFacts(
        key=row["failure_key"],
        attempt=row["attempt"],
        failed_at=row["failed_at"],
        payment_intent=row["payment_intent"],
        charge=row["charge"],
        code=row["code"],
        decline_code=row["decline_code"],
        advice_code=row["advice_code"],
        message=row["message"],
    )


def save_facts(
    conn: Connection,
    old: OrderFacts,
    new: OrderFacts,
    hops: list[tuple[OrderState, OrderState]],
    *,
    event_id: str | None,
    now: datetime,
) -> None:
    """Write ``new`` over ``old`` and one audit row per hop; ``hops`` must be table edges."""
    state = hops[-1][1].value if hops else None
    values: dict[str, Any] = {
        "current_attempt": new.current_attempt,
        "window_closed_at": new.window_closed_at,
        "paid_at": new.paid_at,
        "payment_intent": new.payment_intent,
        "charge": new.charge,
        "amount_charged": new.amount_charged,
        "amount_refunded": new.amount_refunded,
        "dispute": new.dispute,
        "dispute_status": new.dispute_status.name.lower(),
        "held_reason": new.held,
        "updated_at": now,
    }
    if state is not None:
        values["state"] = state
    conn.execute(update(orders).where(orders.c.id == new.order_id).values(**values))
    _save_attempts(conn, old, new, now)
    _save_failures(conn, old, new, event_id or "")
    if not hops:
        return
    conn.execute(
        order_transitions.insert(),
        [
            {
                "order_id": new.order_id,
                "from_state": source.value,
                "to_state": target.value,
                "event_id": event_id,
                "reason": TRANSITIONS[(source, target)],
                "at": now,
            }
            for source, target in hops
        ],
    )


def _save_attempts(conn: Connection, old: OrderFacts, new: OrderFacts, now: datetime) -> None:
    before = {a.attempt: a for a in old.attempts}
    for attempt in new.attempts:
        if before.get(attempt.attempt) == attempt:
            continue
        values = {
            "session_id": attempt.session_id,
            "payment_intent": attempt.payment_intent,
            "status": attempt.status.name.lower(),
            "expires_at": attempt.expires_at,
            "completed_at": attempt.completed_at,
        }
        if attempt.attempt in before:
            conn.execute(
                update(attempts)
                .where(attempts.c.order_id == new.order_id)
                .where(attempts.c.attempt == attempt.attempt)
                .values(**values)
            )
        else:
            conn.execute(
                attempts.insert().values(
                    order_id=new.order_id, attempt=attempt.attempt, created_at=now, **values
                )
            )


def _save_failures(conn: Connection, old: OrderFacts, new: OrderFacts, event_id: str) -> None:
    rows = [
        {
            "order_id": new.order_id,
            "attempt": f.attempt,
            "failure_key": f.key,
            "payment_intent": f.payment_intent,
            "charge": f.charge,
            "code": f.code,
            "decline_code": f.decline_code,
            "advice_code": f.advice_code,
            "message": f.message,
            "failed_at": f.failed_at,
            "event_id": event_id,
        }
        for f in new.failures - old.failures
    ]
    insert_ignoring_conflicts(conn, payment_failures, rows)
