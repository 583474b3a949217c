"""The money invariants hold in the schema itself, on SQLite and PostgreSQL: a row that breaks
one is refused by the database whatever code writes it."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import IntegrityError

from paywindow.inbox.processor import EventStatus
from paywindow.payments.facts import AttemptStatus
from paywindow.payments.states import OrderState
from paywindow.store.tables import attempts, orders, retry_attempts
from tests.factories import NOW, open_order

_migration = importlib.import_module("paywindow.store.migrations.versions.0006_invariants")

BAD_ORDERS = [
    pytest.param({"state": "shipped"}, id="unknown-state"),
    pytest.param({"amount_total": 0}, id="zero-total"),
    pytest.param({"amount_total": -5}, id="negative-total"),
    pytest.param({"application_fee_amount": -1}, id="negative-fee"),
    pytest.param({"application_fee_amount": 2501}, id="fee-over-total"),
    pytest.param({"amount_charged": 2500, "amount_refunded": 2600}, id="refund-over-charge"),
    pytest.param({"amount_refunded": -1}, id="negative-refund"),
    pytest.param({"currency": "us"}, id="two-letter-currency"),
    pytest.param({"currency": "USD"}, id="upper-currency"),
    pytest.param({"dispute_status": "maybe"}, id="unknown-dispute-status"),
]


@pytest.mark.parametrize("values", BAD_ORDERS)
def test_an_order_row_that_breaks_an_invariant_is_refused(
    engine: Engine, values: dict[str, Any]
) -> None:
    oid = open_order(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(update(orders).where(orders.c.id == oid).values(**values))


def test_a_new_order_row_is_checked_too(engine: Engine) -> None:
    row = {
        "id": "ord_bad",
        "state": "awaiting_payment",
        "currency": "usd",
        "amount_total": 0,
        "application_fee_amount": 0,
        "seller_account": "acct_1",
        "buyer_id": "u",
        "deadline": NOW,
        "current_attempt": 1,
        "amount_refunded": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(orders).values(**row))


def test_statuses_are_limited_to_their_vocabularies(engine: Engine) -> None:
    oid = open_order(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(update(attempts).where(attempts.c.order_id == oid).values(status="zombie"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(retry_attempts).values(**_retry(oid, 1, "half-done")))


def _retry(order_id: str, number: int, status: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "number": number,
        "kind": "retry",
        "due_at": NOW + timedelta(hours=number),
        "status": status,
        "stripe_errors": 0,
        "manual": False,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_at_most_one_attempt_runs_per_order(engine: Engine) -> None:
    oid, other = open_order(engine), open_order(engine)
    with engine.begin() as conn:
        conn.execute(insert(retry_attempts), [_retry(oid, 1, "running"), _retry(oid, 2, "done")])
        conn.execute(insert(retry_attempts), [_retry(other, 1, "running")])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(retry_attempts).values(**_retry(oid, 3, "running")))


def test_an_attempt_number_is_used_once_per_order(engine: Engine) -> None:
    oid = open_order(engine)  # attempt 1 planned
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            insert(attempts).values(order_id=oid, attempt=1, status="open", created_at=NOW)
        )


def test_the_schema_vocabularies_are_the_codes() -> None:
    checks = {name: condition for _table, name, condition in _migration.CHECKS}
    for state in OrderState:
        assert repr(state.value) in checks["ck_orders_state"]
    assert checks["ck_orders_state"].count("'") == 2 * len(OrderState)
    assert checks["ck_attempts_status"].count("'") == 2 * len(AttemptStatus)
    for status in AttemptStatus:
        assert repr(status.name.lower()) in checks["ck_attempts_status"]
    for event_status in EventStatus:
        assert repr(event_status.value) in checks["ck_event_log_status"]
