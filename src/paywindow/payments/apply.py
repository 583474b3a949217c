"""Applying one change to one order: merge facts, derive the state, walk the table, audit.

Every path that changes an order goes through :func:`apply_change`: Stripe events (the
processor), the expiry flow (window closed), new checkout attempts and the backstop.
Entering a state the marketplace acts on (:data:`ANNOUNCED`) writes its outbox message in the
same transaction; so does every further partial refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from paywindow.errors import EventError
from paywindow.payments.facts import AttemptStatus, Change, OrderFacts, derive_state, merge
from paywindow.payments.repository import load_facts, save_facts
from paywindow.payments.states import OrderState, path
from paywindow.store.outbox import write_message

__all__ = ["ANNOUNCED", "Applied", "apply_change", "payload"]

#: States the marketplace app is told about, with the outbox topic (docs/notifications.md;
#: the schemas are in paywindow/notify/schemas). ``payment_failed`` is announced by the retry
#: plans instead (``retries.plans``), once the plan says whether and when a retry runs.
ANNOUNCED: dict[OrderState, str] = {
    OrderState.PAID: "order.paid",
    OrderState.PROCESSING: "order.processing",
    OrderState.EXPIRED: "order.expired",
    OrderState.LATE_PAYMENT_REFUNDED: "order.late_payment_refunded",
    OrderState.REFUNDED: "order.refunded",
    OrderState.PARTIALLY_REFUNDED: "order.partially_refunded",
    OrderState.DISPUTED: "order.disputed",
    OrderState.DISPUTE_WON: "order.dispute_won",
    OrderState.DISPUTE_LOST: "order.dispute_lost",
    OrderState.PAYMENT_MISMATCH: "order.payment_held",
}


@dataclass(frozen=True)
class Applied:
    before: OrderState
    after: OrderState
    old: OrderFacts
    new: OrderFacts


def apply_change(
    conn: Connection, order_id: str, change: Change, *, now: datetime, event_id: str | None
) -> Applied:
    """Merge ``change`` into the order (row locked), save it and audit every hop."""
    state, facts = load_facts(conn, order_id)
    new = merge(facts, change)
    target = derive_state(new)
    route = path(state, target)
    if route is None and target is OrderState.PAYMENT_MISMATCH:
        route = []  # a closed dispute stays as it is; the hold is still recorded for finance
    if route is None:
        raise EventError(f"order {order_id}: no transition from {state} to {target}")
    hops = list(zip([state, *route], route, strict=False))
    save_facts(conn, facts, new, hops, event_id=event_id, now=now)
    entered = [to for _, to in hops]
    if (
        not hops
        and target is OrderState.PARTIALLY_REFUNDED
        and new.amount_refunded > facts.amount_refunded
    ):
        entered.append(target)  # another partial refund: a new message of its own
    for announced in entered:
        if announced in ANNOUNCED:
            _announce(conn, announced, new, now)
    return Applied(before=state, after=target, old=facts, new=new)


def _announce(conn: Connection, state: OrderState, facts: OrderFacts, now: datetime) -> None:
    """Write the outbox message of entering ``state``, once: the dedupe key names what makes it
    new (the attempt that is processing, the amount refunded to date), so a replayed event
    announces nothing twice."""
    topic = ANNOUNCED[state]
    key = f"{topic}:{facts.order_id}"
    if state is OrderState.PROCESSING:
        key += f":{_processing_attempt(facts)}"
    elif state is OrderState.PARTIALLY_REFUNDED:
        key += f":{facts.amount_refunded}"
    write_message(
        conn,
        topic=topic,
        dedupe_key=key,
        payload=payload(state, facts, now),
        now=now,
        order_id=facts.order_id,
    )


def payload(state: OrderState, facts: OrderFacts, now: datetime) -> dict[str, Any]:
    """The ``data`` of the message announcing ``state`` (its schema:
    ``paywindow/notify/schemas/<topic>.json``)."""
    data: dict[str, Any] = {
        "order_id": facts.order_id,
        "state": state.value,
        "at": _iso(now),
        "amount_total": facts.amount_total,
        "currency": (facts.currency or "").lower(),
    }
    charged = facts.amount_charged or facts.amount_total
    if state is OrderState.PAID:
        paid = [a.attempt for a in facts.attempts if a.status is AttemptStatus.PAID]
        data.update(
            paid_at=_iso(facts.paid_at or now),
            attempt=min(paid) if paid else None,
            payment_intent=facts.payment_intent,
            charge=facts.charge,
        )
    elif state is OrderState.PROCESSING:
        data.update(
            attempt=_processing_attempt(facts),
            payment_intent=_processing_intent(facts),
            deadline=_iso(facts.deadline),
        )
    elif state is OrderState.EXPIRED:
        data.update(
            deadline=_iso(facts.deadline),
            window_closed_at=_iso(facts.window_closed_at) if facts.window_closed_at else None,
        )
    elif state is OrderState.LATE_PAYMENT_REFUNDED:
        data.update(
            paid_at=_iso(facts.paid_at or now),
            deadline=_iso(facts.deadline),
            amount_refunded=facts.amount_refunded,
            payment_intent=facts.payment_intent,
            charge=facts.charge,
        )
    elif state is OrderState.REFUNDED:
        data.update(amount_refunded=facts.amount_refunded, charge=facts.charge)
    elif state is OrderState.PARTIALLY_REFUNDED:
        data.update(
            amount_refunded=facts.amount_refunded,
            amount_remaining=max(charged - facts.amount_refunded, 0),
            charge=facts.charge,
        )
    elif state in (OrderState.DISPUTED, OrderState.DISPUTE_WON, OrderState.DISPUTE_LOST):
        data.update(dispute=facts.dispute or "", charge=facts.charge)
    elif state is OrderState.PAYMENT_MISMATCH:
        data["reason"] = facts.held or "payment does not match the order"
    return data


def _processing_attempt(facts: OrderFacts) -> int:
    processing = [a.attempt for a in facts.attempts if a.status is AttemptStatus.PROCESSING]
    return max(processing, default=facts.current_attempt)


def _processing_intent(facts: OrderFacts) -> str | None:
    number = _processing_attempt(facts)
    found = next((a for a in facts.attempts if a.attempt == number), None)
    return found.payment_intent if found is not None else None


def _iso(at: datetime) -> str:
    return at.isoformat()
