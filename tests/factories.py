"""Stripe event factories with realistic defaults and overrides (no network, no sandbox)."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from paywindow.payments.repository import NewOrder, create_order
from paywindow.store.sql import insert_ignoring_conflicts
from paywindow.store.tables import attempts
from paywindow.stripe_ids import new_id

_counter = itertools.count(1)

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def ts(value: datetime) -> int:
    return int(value.timestamp())


def event(
    kind: str, obj: dict[str, Any], *, created: datetime = NOW, **extra: Any
) -> dict[str, Any]:
    """A Stripe event envelope around ``obj``."""
    body: dict[str, Any] = {
        "id": extra.pop("id", None) or new_id("evt"),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": ts(created),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }
    body.update(extra)
    return body


def metadata(order_id: str, attempt: int = 1) -> dict[str, str]:
    return {"paywindow_order_id": order_id, "paywindow_attempt": str(attempt)}


def session(order_id: str, *, attempt: int = 1, **overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": f"cs_test_{order_id}_{attempt}",
        "object": "checkout.session",
        "amount_total": 2500,
        "currency": "usd",
        "client_reference_id": order_id,
        "expires_at": ts(NOW + timedelta(hours=23, minutes=55)),
        "metadata": metadata(order_id, attempt),
        "mode": "payment",
        "payment_intent": None,
        "payment_status": "unpaid",
        "status": "open",
        "url": None,
    }
    obj.update(overrides)
    return obj


def payment_intent(order_id: str, *, attempt: int = 1, **overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": f"pi_{order_id}_{attempt}",
        "object": "payment_intent",
        "amount": 2500,
        "amount_received": 0,
        "created": ts(NOW),
        "currency": "usd",
        "latest_charge": None,
        "last_payment_error": None,
        "metadata": metadata(order_id, attempt),
        "status": "requires_payment_method",
    }
    obj.update(overrides)
    return obj


def decline(order_id: str, decline_code: str, *, attempt: int = 1, n: int = 1) -> dict[str, Any]:
    """A payment_intent.payment_failed payload for a card declined with ``decline_code``."""
    advice = (
        "do_not_try_again" if decline_code in {"lost_card", "stolen_card"} else "try_again_later"
    )
    error = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": decline_code,
        "advice_code": advice,
        "message": "Your card was declined.",
        "charge": f"ch_{order_id}_{attempt}_fail{n}",
        "payment_method": {"id": f"pm_{order_id}_{n}", "object": "payment_method"},
    }
    return payment_intent(order_id, attempt=attempt, last_payment_error=error)


def charge(order_id: str, *, attempt: int = 1, **overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": f"ch_{order_id}_{attempt}",
        "object": "charge",
        "amount": 2500,
        "amount_captured": 2500,
        "amount_refunded": 0,
        "created": ts(NOW),
        "currency": "usd",
        "metadata": {},
        "paid": True,
        "payment_intent": f"pi_{order_id}_{attempt}",
        "refunded": False,
        "status": "succeeded",
    }
    obj.update(overrides)
    return obj


def dispute(order_id: str, status: str, *, attempt: int = 1) -> dict[str, Any]:
    return {
        "id": f"dp_{order_id}",
        "object": "dispute",
        "amount": 2500,
        "charge": f"ch_{order_id}_{attempt}",
        "payment_intent": f"pi_{order_id}_{attempt}",
        "status": status,
        "created": ts(NOW),
    }


def open_order(
    engine: Engine,
    order_id: str | None = None,
    *,
    deadline: datetime | None = None,
    amount: int = 2500,
) -> str:
    order_id = order_id or f"ord_{next(_counter)}_{int(time.time() * 1000) % 100000}"
    with engine.begin() as conn:
        create_order(
            conn,
            NewOrder(
                id=order_id,
                currency="usd",
                amount_total=amount,
                application_fee_amount=300,
                seller_account="acct_seller",
                buyer_id="u_9",
                buyer_email="b@example.com",
                deadline=deadline or NOW + timedelta(hours=24),
            ),
            NOW,
        )
        plan_attempt(conn, order_id)
    return order_id


def plan_attempt(conn: Connection, order_id: str, attempt: int = 1, at: datetime = NOW) -> None:
    """Record the order's attempt as checkout does before creating its session (once)."""
    row = {"order_id": order_id, "attempt": attempt, "status": "open", "created_at": at}
    insert_ignoring_conflicts(conn, attempts, [row])


def body_of(evt: dict[str, Any]) -> bytes:
    return json.dumps(evt, separators=(",", ":")).encode()


def record(engine: Engine, *events: dict[str, Any], source: str = "test") -> set[str]:
    """Put events in the log as the recorder would (already verified); return the new ids."""
    from paywindow.inbox.eventlog import event_row, insert_events, parse_event

    rows = []
    for evt in events:
        body = body_of(evt)
        rows.append(event_row(body, parse_event(body), received_at=NOW, source=source))
    return insert_events(engine, rows)
