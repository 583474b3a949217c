"""Each transition of the order state machine, driven by real events through the processor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from paywindow.payments.states import TRANSITIONS
from tests import factories as f
from tests.payments.helpers import apply, order, state


def _paid(order_id: str) -> dict[str, object]:
    return f.event(
        "checkout.session.completed",
        f.session(
            order_id, status="complete", payment_status="paid", payment_intent=f"pi_{order_id}_1"
        ),
    )


def test_card_payment_makes_the_order_paid(engine: Engine) -> None:
    oid = f.open_order(engine)
    apply(engine, _paid(oid))
    got = order(engine, oid)
    assert got["state"] == "paid"
    assert got["payment_intent"] == f"pi_{oid}_1"
    assert [(t["from_state"], t["to_state"]) for t in got["transitions"]] == [
        ("awaiting_payment", "paid")
    ]
    assert got["attempts"][0]["status"] == "paid"


def test_delayed_method_goes_processing_then_paid(engine: Engine) -> None:
    oid = f.open_order(engine)
    completed = f.session(
        oid, status="complete", payment_status="unpaid", payment_intent=f"pi_{oid}_1"
    )
    apply(engine, f.event("checkout.session.completed", completed))
    assert state(engine, oid) == "processing"
    later = f.NOW + timedelta(days=2)  # settles after the deadline: still in time, it began before
    apply(engine, f.event("checkout.session.async_payment_succeeded", completed, created=later))
    assert state(engine, oid) == "paid"


def test_delayed_method_that_fails_leaves_payment_failed(engine: Engine) -> None:
    oid = f.open_order(engine)
    completed = f.session(oid, status="complete", payment_status="unpaid")
    apply(engine, f.event("checkout.session.completed", completed))
    apply(engine, f.event("checkout.session.async_payment_failed", completed))
    got = order(engine, oid)
    assert got["state"] == "payment_failed"
    assert got["failures"][0]["code"] == "async_payment_failed"


def test_decline_keeps_decline_and_advice_codes(engine: Engine) -> None:
    oid = f.open_order(engine)
    apply(engine, f.event("payment_intent.payment_failed", f.decline(oid, "insufficient_funds")))
    got = order(engine, oid)
    assert got["state"] == "payment_failed"
    (failure,) = got["failures"]
    assert (failure["decline_code"], failure["advice_code"]) == (
        "insufficient_funds",
        "try_again_later",
    )
    assert failure["code"] == "card_declined"


def test_decline_then_success_in_the_same_session(engine: Engine) -> None:
    oid = f.open_order(engine)
    apply(engine, f.event("payment_intent.payment_failed", f.decline(oid, "generic_decline")))
    succeeded = f.payment_intent(
        oid, status="succeeded", amount_received=2500, latest_charge=f"ch_{oid}_1"
    )
    apply(engine, f.event("payment_intent.succeeded", succeeded))
    got = order(engine, oid)
    assert got["state"] == "paid"
    assert got["charge"] == f"ch_{oid}_1"


def test_session_expiring_at_the_deadline_expires_the_order(engine: Engine) -> None:
    deadline = f.NOW + timedelta(hours=2)
    oid = f.open_order(engine, deadline=deadline)
    expired = f.session(oid, status="expired", expires_at=f.ts(deadline))
    apply(engine, f.event("checkout.session.expired", expired, created=deadline))
    assert state(engine, oid) == "expired"


def test_session_expiring_before_the_deadline_leaves_the_window_open(engine: Engine) -> None:
    oid = f.open_order(engine)  # deadline NOW + 24 h; the session ends 5 minutes earlier
    expired = f.session(oid, status="expired")
    apply(engine, f.event("checkout.session.expired", expired))
    got = order(engine, oid)
    assert got["state"] == "awaiting_payment"
    assert got["attempts"][0]["status"] == "expired"


@pytest.mark.parametrize(
    ("refunds", "expected"),
    [
        pytest.param([800], "partially_refunded", id="partial"),
        pytest.param([2500], "refunded", id="full"),
        pytest.param([800, 2500], "refunded", id="partial-then-rest"),
        pytest.param([2500, 800], "refunded", id="stale-partial-after-full"),
    ],
)
def test_refunds(engine: Engine, refunds: list[int], expected: str) -> None:
    oid = f.open_order(engine)
    apply(engine, _paid(oid))
    for amount in refunds:
        refunded = f.charge(oid, amount_refunded=amount, refunded=amount == 2500)
        apply(engine, f.event("charge.refunded", refunded))
    got = order(engine, oid)
    assert got["state"] == expected
    assert got["amount_refunded"] == max(refunds)


@pytest.mark.parametrize(
    ("closing", "expected"),
    [pytest.param("won", "dispute_won", id="won"), pytest.param("lost", "dispute_lost", id="lost")],
)
def test_disputes(engine: Engine, closing: str, expected: str) -> None:
    oid = f.open_order(engine)
    apply(engine, _paid(oid))
    apply(engine, f.event("charge.dispute.created", f.dispute(oid, "needs_response")))
    assert state(engine, oid) == "disputed"
    apply(engine, f.event("charge.dispute.closed", f.dispute(oid, closing)))
    assert state(engine, oid) == expected
    # a stale "opened" event after the close changes nothing
    apply(engine, f.event("charge.dispute.created", f.dispute(oid, "needs_response")))
    assert state(engine, oid) == expected


def test_payment_completed_after_the_deadline_awaits_its_refund(engine: Engine) -> None:
    deadline = f.NOW + timedelta(hours=1)
    oid = f.open_order(engine, deadline=deadline)
    late = deadline + timedelta(seconds=2)
    paid = f.session(oid, status="complete", payment_status="paid", payment_intent=f"pi_{oid}_1")
    apply(engine, f.event("checkout.session.completed", paid, created=late))
    assert state(engine, oid) == "expired"
    refunded = f.charge(oid, created=f.ts(late), amount_refunded=2500, refunded=True)
    apply(engine, f.event("charge.refunded", refunded, created=late + timedelta(seconds=5)))
    got = order(engine, oid)
    assert got["state"] == "late_payment_refunded"
    assert [t["to_state"] for t in got["transitions"]] == ["expired", "late_payment_refunded"]


def test_out_of_order_events_walk_the_table_with_one_audit_row_per_hop(engine: Engine) -> None:
    oid = f.open_order(engine)
    apply(engine, f.event("charge.dispute.closed", f.dispute(oid, "lost")))
    assert state(engine, oid) == "awaiting_payment"  # the dispute waits for its payment intent
    apply(engine, _paid(oid))
    got = order(engine, oid)
    hops = [(t["from_state"], t["to_state"]) for t in got["transitions"]]
    assert hops == [
        ("awaiting_payment", "paid"),
        ("paid", "disputed"),
        ("disputed", "dispute_lost"),
    ]
    assert all(hop in {(a.value, b.value) for a, b in TRANSITIONS} for hop in hops)


def test_a_session_expired_early_does_not_close_the_window_it_was_planned_to_end_with(
    engine: Engine,
) -> None:
    deadline = f.NOW + timedelta(hours=8)
    oid = f.open_order(engine, deadline=deadline)
    # planned to end at the deadline, but expired through the API an hour in (a retry link)
    early = f.session(oid, status="expired", expires_at=f.ts(deadline))
    apply(engine, f.event("checkout.session.expired", early, created=f.NOW + timedelta(hours=1)))
    assert state(engine, oid) == "awaiting_payment"
