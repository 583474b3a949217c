"""A payment counts only if it is the order's: its attempt, session, amount and currency.

Anything else holds the order for review (``payment_mismatch``) with an audit row and a
message to the marketplace; it never becomes ``paid``, even when a good payment follows.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from paywindow.cli.views import list_events
from paywindow.store.tables import attempts, outbox
from tests import factories as f
from tests.payments.helpers import apply, order, state


def _ours(engine: Engine) -> str:
    oid = f.open_order(engine)
    with engine.begin() as conn:
        conn.execute(
            update(attempts)
            .where(attempts.c.order_id == oid, attempts.c.attempt == 1)
            .values(session_id=f"cs_test_{oid}_1")
        )
    return oid


def _completed(oid: str, **overrides: Any) -> dict[str, Any]:
    paid = f.session(oid, status="complete", payment_status="paid", **overrides)
    return f.event("checkout.session.completed", paid)


MISMATCHES = [
    pytest.param({"id": "cs_test_someone_else"}, "cs_test_someone_else", id="other-session"),
    pytest.param({"amount_total": 2600}, "amount 2600", id="other-amount"),
    pytest.param({"amount_total": 250}, "amount 250", id="smaller-amount"),
    pytest.param({"currency": "eur"}, "currency eur", id="other-currency"),
    pytest.param({"attempt": 7}, "attempt 7", id="unknown-attempt"),
]


@pytest.mark.parametrize(("overrides", "named"), MISMATCHES)
def test_a_payment_that_is_not_the_orders_holds_it(
    engine: Engine, overrides: dict[str, Any], named: str
) -> None:
    oid = _ours(engine)
    apply(engine, _completed(oid, **overrides))
    got = order(engine, oid)
    assert got["state"] == "payment_mismatch"
    assert got["paid_at"] is None
    assert named in got["held_reason"]
    (hop,) = got["transitions"]
    assert (hop["from_state"], hop["to_state"]) == ("awaiting_payment", "payment_mismatch")
    with engine.connect() as conn:
        topics = [r.topic for r in conn.execute(select(outbox.c.topic))]
    assert topics == ["order.payment_held"]
    (applied,) = list_events(engine, status="applied")
    assert applied["event_id"].startswith("evt_")
    apply(engine, _completed(oid), f.event("payment_intent.succeeded", _intent(oid)))
    assert state(engine, oid) == "payment_mismatch"  # held until finance looks


def _intent(oid: str) -> dict[str, Any]:
    return f.payment_intent(oid, status="succeeded", amount_received=2500)


def test_the_orders_own_payment_counts(engine: Engine) -> None:
    oid = _ours(engine)
    apply(engine, _completed(oid, payment_intent=f"pi_{oid}_1"))
    apply(engine, f.event("payment_intent.succeeded", _intent(oid)))
    assert state(engine, oid) == "paid"


def test_a_second_payment_for_a_paid_order_with_another_amount_holds_it(engine: Engine) -> None:
    oid = _ours(engine)
    apply(engine, _completed(oid))
    assert state(engine, oid) == "paid"
    other = f.payment_intent(oid, status="succeeded", amount_received=9900, id="pi_extra")
    apply(engine, f.event("payment_intent.succeeded", other))
    assert state(engine, oid) == "payment_mismatch"


@pytest.mark.parametrize("amount", [2500.5, "2500", True], ids=["float", "string", "bool"])
def test_an_amount_that_is_not_an_integer_is_a_data_error(engine: Engine, amount: Any) -> None:
    oid = _ours(engine)
    apply(engine, _completed(oid, amount_total=amount), allow_failed=True)
    (failed,) = list_events(engine, status="failed")
    assert "is not an integer" in failed["last_error"]
    assert state(engine, oid) == "awaiting_payment"
