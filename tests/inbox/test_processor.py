"""Processor bookkeeping: ignored events, failures with tracebacks, backoff and replay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from paywindow.cli.views import list_events, show_event
from paywindow.inbox.processor import process_due, replay
from paywindow.store.sql import backoff
from tests import factories as f
from tests.payments.helpers import apply, state


def test_events_without_paywindow_metadata_are_kept_and_ignored(engine: Engine) -> None:
    foreign = f.session("ord_x", metadata={})
    payout = {"id": "po_1", "object": "payout", "amount": 100}
    apply(
        engine,
        f.event("checkout.session.completed", foreign),
        f.event("payout.paid", payout),
        f.event("customer.created", {"id": "cus_1", "object": "customer"}),
    )
    notes = {e["type"]: (e["status"], e["note"]) for e in list_events(engine)}
    assert notes["checkout.session.completed"] == (
        "ignored",
        "no paywindow metadata on the checkout session",
    )
    assert notes["payout.paid"] == ("ignored", "kept for reconciliation")
    assert notes["customer.created"] == ("ignored", "unhandled event type customer.created")


def test_a_failing_event_keeps_its_traceback_and_does_not_block_others(engine: Engine) -> None:
    broken = f.open_order(engine, "ord_float")
    paid = f.session(broken, status="complete", payment_status="paid", amount_total=2500.5)
    evt = f.event("checkout.session.completed", paid)
    other = f.open_order(engine)
    apply(engine, evt, allow_failed=True)
    decline = f.event("payment_intent.payment_failed", f.decline(other, "generic_decline"))
    apply(engine, decline, allow_failed=True)
    (failed,) = list_events(engine, status="failed")
    assert failed["event_id"] == evt["id"]
    assert failed["last_error"] == (
        "EventError: checkout.session.amount_total is not an integer: 2500.5"
    )
    detail = show_event(engine, evt["id"])
    assert "Traceback" in detail["last_traceback"]
    assert detail["next_attempt_at"] > f.NOW
    assert state(engine, other) == "payment_failed"  # the failure did not block the others
    assert state(engine, broken) == "awaiting_payment"  # a data error never counts as paid
    assert replay(engine, f.NOW, event_ids=[evt["id"]]) == 1
    assert process_due(engine, f.NOW).counts["failed"] == 1
    assert show_event(engine, evt["id"])["attempts"] == 1


def test_an_event_for_an_order_paywindow_does_not_hold_is_ignored(engine: Engine) -> None:
    evt = f.event("payment_intent.succeeded", f.payment_intent("ord_none", amount_received=2500))
    apply(engine, evt)
    (ignored,) = list_events(engine, status="ignored")
    detail = show_event(engine, ignored["event_id"])
    assert "ord_none" in detail["note"] and "does not hold" in detail["note"]
    assert detail["last_traceback"] is None


def test_failed_events_are_retried_with_backoff_until_the_limit(engine: Engine) -> None:
    oid = f.open_order(engine)
    evt = f.event("payment_intent.succeeded", f.payment_intent(oid, amount_received="2500"))
    f.record(engine, evt)
    now = f.NOW
    for attempt in range(1, 4):
        assert process_due(engine, now, max_attempts=3).counts["failed"] == 1
        assert process_due(engine, now, max_attempts=3).total == 0  # not due again yet
        now += backoff(attempt)
    assert process_due(engine, now + timedelta(days=1), max_attempts=3).total == 0
    assert show_event(engine, evt["id"])["attempts"] == 3
    assert replay(engine, now, failed=True) == 1
    assert process_due(engine, now, max_attempts=3).counts["failed"] == 1


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [2, 4, 8]
    assert backoff(30) == timedelta(hours=1)


def test_a_dispute_for_a_payment_nobody_claims_is_eventually_ignored(engine: Engine) -> None:
    f.record(engine, f.event("charge.dispute.created", f.dispute("ord_foreign", "needs_response")))
    assert process_due(engine, f.NOW).counts["pending"] == 1
    assert process_due(engine, f.NOW + timedelta(days=4)).counts["ignored"] == 1
    (evt,) = list_events(engine)
    assert evt["note"] == "no paywindow order claimed pi_ord_foreign_1 within 3 days"
