"""Applying one change to one order: merge facts, derive the state, walk the table, audit.

Every path that changes an order goes through :func:`apply_change`: Stripe events (the
processor), the expiry flow (window closed), new checkout attempts and the backstop.
Entering some states also writes an outbox message for the marketplace app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from paywindow.errors import EventError
from paywindow.payments.facts import Change, OrderFacts, derive_state, merge
from paywindow.payments.repository import load_facts, save_facts
from paywindow.payments.states import OrderState, path
from paywindow.store.outbox import write_message

__all__ = ["ANNOUNCED", "Applied", "apply_change"]

#: States the marketplace app is told about, with the outbox topic.
ANNOUNCED: dict[OrderState, str] = {
    OrderState.PAID: "order.paid",
    OrderState.EXPIRED: "order.expired",
    OrderState.LATE_PAYMENT_REFUNDED: "order.late_payment_refunded",
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
    for _, entered in hops:
        if entered in ANNOUNCED:
            topic = ANNOUNCED[entered]
            write_message(
                conn,
                topic=topic,
                dedupe_key=f"{topic}:{order_id}",
                payload=_payload(order_id, entered, new, now),
                now=now,
                order_id=order_id,
            )
    return Applied(before=state, after=target, old=facts, new=new)


def _payload(order_id: str, state: OrderState, facts: OrderFacts, now: datetime) -> dict[str, str]:
    payload = {"order_id": order_id, "state": state.value, "at": now.isoformat()}
    if state is OrderState.PAYMENT_MISMATCH and facts.held:
        payload["reason"] = facts.held
    return payload
