"""Retries end to end on the sandbox clock: link and off-session channels, hard declines,
Stripe errors, concurrent runs, late success, and the recovery report."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from paywindow.retries import run_retries
from paywindow.retries.plans import claim, due_attempts
from paywindow.retries.report import recovery_report, write_recovery_report
from paywindow.store.tables import attempts, orders, retry_attempts
from tests.retries.helpers import (
    attempts_of,
    failed_order,
    links,
    plan_of,
    retry_policy,
    run,
    state_of,
)
from tests.world import World

ROOT = Path(__file__).resolve().parents[2]


def test_plan_runs_links_on_schedule_and_a_success_closes_it(world: World) -> None:
    failed_order(world, "ord_a")
    failed_at = world.clock.now()
    assert state_of(world, "ord_a") == "payment_failed"
    run(world)
    assert [(a["due_at"], a["status"]) for a in attempts_of(world, "ord_a")] == [
        (failed_at + timedelta(hours=h), "scheduled") for h in (1, 6, 18)
    ]
    world.advance(timedelta(minutes=59))
    assert run(world).executed == 0  # not due yet
    world.advance(timedelta(minutes=1))
    assert run(world).outcomes == {"link_sent": 1}
    [message] = links(world)
    assert message["payload"]["reason"] == "retry" and message["payload"]["retry"] == 1
    assert state_of(world, "ord_a") == "awaiting_payment"  # retry issued
    first = attempts_of(world, "ord_a")[0]
    assert first["channel"] == "link" and first["order_attempt"] == 2
    # the original session was expired before the new one was created
    with world.engine.connect() as conn:
        statuses = dict(
            conn.execute(
                select(attempts.c.attempt, attempts.c.status).where(attempts.c.order_id == "ord_a")
            ).all()
        )
    assert statuses == {1: "expired", 2: "open"}
    world.sandbox.pay(first["session_id"], "decline", decline_code="insufficient_funds")
    world.settle()
    assert state_of(world, "ord_a") == "payment_failed"
    run(world)
    assert plan_of(world, "ord_a")["status"] == "open"  # a further failure does not restart it
    assert [a["due_at"] for a in attempts_of(world, "ord_a")][1] == failed_at + timedelta(hours=6)
    world.advance(timedelta(hours=5))
    assert run(world).outcomes == {"link_sent": 1}
    second = attempts_of(world, "ord_a")[1]
    world.sandbox.pay(second["session_id"], "success")
    world.settle()
    run(world)
    assert state_of(world, "ord_a") == "paid"
    plan = plan_of(world, "ord_a")
    assert plan["status"] == "closed" and plan["close_reason"] == "paid"
    assert [a["status"] for a in attempts_of(world, "ord_a")] == ["done", "done", "cancelled"]


def test_attempts_past_the_deadline_are_dropped(engine: Engine) -> None:
    from tests.world import build_world

    with build_world(engine, window=timedelta(hours=8)) as world:
        failed_order(world, "ord_short")
        run(world)
        rows = attempts_of(world, "ord_short")
        assert [(a["status"], a["reason"]) for a in rows] == [
            ("scheduled", None),
            ("scheduled", None),
            ("dropped", "after_deadline"),
        ]
        world.advance(timedelta(hours=1))
        run(world)
        world.advance(timedelta(hours=5))
        run(world)
        world.advance(timedelta(hours=2, seconds=1))
        run(world)
        # the third try was dropped, so the plan runs out with the second, inside the window
        assert plan_of(world, "ord_short")["close_reason"] == "exhausted"
        sent = [m["payload"] for m in links(world)]
        assert [m["retry"] for m in sent] == [1, 2]
        assert all(m["expires_at"] <= m["deadline"] for m in sent)


def test_hard_decline_sends_one_message_and_never_charges_off_session(world: World) -> None:
    customer = _customer_with_saved_card(world)
    failed_order(world, "ord_h", "stolen_card", buyer=_buyer(customer))
    run(world)
    assert [(a["kind"], a["status"], a["reason"]) for a in attempts_of(world, "ord_h")] == [
        ("another_method", "done", None),
        ("retry", "dropped", "hard_decline"),
        ("retry", "dropped", "hard_decline"),
    ]
    [message] = links(world)
    assert message["payload"]["reason"] == "use_another_payment_method"
    assert attempts_of(world, "ord_h")[0]["channel"] == "link"
    world.advance(timedelta(hours=20))
    run(world)
    assert len(links(world)) == 1
    intents = world.stripe.v1.payment_intents.list(params={"customer": customer, "limit": 100})
    retried = [
        pi.id
        for pi in intents.data
        if pi.to_dict()["metadata"].get("paywindow_order_id") == "ord_h"
        and pi.to_dict()["metadata"].get("paywindow_attempt") != "1"
    ]
    assert retried == []


def test_off_session_retry_charges_the_saved_card(world: World) -> None:
    customer = _customer_with_saved_card(world)
    failed_order(world, "ord_o", buyer=_buyer(customer))
    card = world.stripe.v1.payment_methods.list(params={"customer": customer, "type": "card"})
    world.sandbox.script_payment_method(
        card.data[0].id,
        [{"outcome": "decline", "decline_code": "insufficient_funds"}],
        {"outcome": "success"},
    )
    run(world)
    world.advance(timedelta(hours=1))
    assert run(world).outcomes == {"declined": 1}
    assert state_of(world, "ord_o") == "payment_failed"
    world.advance(timedelta(hours=5))
    assert run(world).outcomes == {"succeeded": 1}
    assert state_of(world, "ord_o") == "paid"
    second = attempts_of(world, "ord_o")[1]
    assert second["channel"] == "off_session" and second["outcome"] == "succeeded"
    intent = world.stripe.v1.payment_intents.retrieve(second["payment_intent"])
    assert intent.application_fee_amount == 300
    assert intent.transfer_data is not None and intent.transfer_data.destination == world.seller
    assert intent.metadata["paywindow_attempt"] == str(second["order_attempt"])
    assert plan_of(world, "ord_o")["close_reason"] == "paid"
    assert links(world) == []


def test_stripe_error_does_not_consume_the_attempt(world: World) -> None:
    failed_order(world, "ord_e")
    run(world)
    world.advance(timedelta(hours=1))
    world.sandbox.faults(fail_next=1000, fail_status=500)
    try:
        report = run(world)
    finally:
        world.sandbox.faults()
    assert report.released == 1 and report.executed == 0
    first = attempts_of(world, "ord_e")[0]
    assert first["status"] == "scheduled" and first["stripe_errors"] == 1
    assert "GatewayUnavailable" in first["last_error"]
    world.advance(timedelta(minutes=5))
    assert run(world).outcomes == {"link_sent": 1}
    assert attempts_of(world, "ord_e")[0]["status"] == "done"
    assert len(links(world)) == 1


def test_concurrent_runs_never_execute_an_attempt_twice(world: World) -> None:
    for n in range(6):
        failed_order(world, f"ord_c{n}")
    run(world)
    world.advance(timedelta(hours=1))
    ids = [i for i, _ in due_attempts(world.engine, world.clock.now(), 100)]
    assert len(ids) == 6
    lease = timedelta(minutes=10)
    assert claim(world.engine, ids[0], "a", world.clock.now(), lease) is not None
    assert claim(world.engine, ids[0], "b", world.clock.now(), lease) is None
    reports: list[Any] = []
    barrier = threading.Barrier(3)

    def one_run(name: str) -> None:
        barrier.wait()
        policy = retry_policy(world)
        reports.append(
            run_retries(world.engine, world.stripe, policy, world.clock.now(), worker=name)
        )

    threads = [threading.Thread(target=one_run, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.executed for r in reports) == 5  # the sixth is held by "a"
    world.advance(timedelta(minutes=11))  # a's lease runs out: the next run takes it over
    assert run(world).executed == 1
    with world.engine.connect() as conn:
        done = conn.execute(
            select(func.count()).where(
                retry_attempts.c.number == 1, retry_attempts.c.status == "done"
            )
        ).scalar()
    assert done == 6 and len(links(world)) == 6
    sessions = world.stripe.v1.checkout.sessions.list(params={"limit": 100}).data
    assert len(sessions) == 12  # 6 originals + exactly one retry link each


def test_late_success_after_the_plan_closed_counts_as_recovered(world: World) -> None:
    failed_order(world, "ord_l")
    run(world)
    for hours in (1, 5, 12):
        world.advance(timedelta(hours=hours))
        run(world)
    assert plan_of(world, "ord_l")["close_reason"] == "exhausted"
    last = attempts_of(world, "ord_l")[2]
    world.advance(timedelta(hours=2))
    world.sandbox.pay(last["session_id"], "success")
    world.settle()
    run(world)
    assert state_of(world, "ord_l") == "paid"
    assert plan_of(world, "ord_l")["close_reason"] == "exhausted"
    start = world.clock.now() - timedelta(days=1)
    report = recovery_report(world.engine, start, world.clock.now())
    assert (report.failed, report.recovered, report.recovered_by_retry) == (1, 1, 1)
    assert [(r.label, r.failed, r.recovered) for r in report.by_attempt] == [
        ("retry 1", 1, 0),
        ("retry 2", 1, 0),
        ("retry 3", 1, 1),
    ]


def test_recovery_report_by_code_attempt_and_channel(world: World, tmp_path: Path) -> None:
    failed_order(world, "ord_r1")  # recovered by retry 1
    failed_order(world, "ord_r2", "stolen_card")  # hard: one message, never paid
    response = world.create("ord_r3")  # paid by the buyer alone after a decline
    session_id = response.json()["session_id"]
    world.sandbox.pay(session_id, "decline", decline_code="generic_decline")
    world.sandbox.pay(session_id, "success")
    world.settle()
    run(world)
    world.advance(timedelta(hours=1))
    run(world)
    world.sandbox.pay(attempts_of(world, "ord_r1")[0]["session_id"], "success")
    world.settle()
    run(world)
    start = world.clock.now() - timedelta(hours=2)
    report = recovery_report(world.engine, start, world.clock.now())
    figures = report.as_dict()
    assert (figures["failed_orders"], figures["recovered_orders"]) == (3, 2)
    assert figures["recovered_by_retry"] == 1
    assert figures["recovery_rate_without_retries"] == round(1 / 3, 4)
    codes = {r["label"]: (r["failed"], r["recovered"]) for r in figures["by_decline_code"]}
    assert codes == {"insufficient_funds": (1, 1), "stolen_card": (1, 0), "generic_decline": (1, 1)}
    channels = {r["label"]: (r["failed"], r["recovered"]) for r in figures["by_channel"]}
    assert channels == {"off_session": (0, 0), "link": (2, 1)}
    html, csv_path = write_recovery_report(report, tmp_path, ROOT / "reports", world.clock.now())
    assert "66.7 %" in html.read_text()
    assert "decline_code,stolen_card,1,0,0.0000" in csv_path.read_text()


def _buyer(customer: str) -> dict[str, Any]:
    return {"id": "u_saved", "email": None, "customer": customer}


def _customer_with_saved_card(world: World) -> str:
    """A returning buyer: an earlier order paid with the card saved for later use."""
    response = world.create("ord_earlier")
    paid = world.sandbox.pay(response.json()["session_id"], "success", save_payment_method=True)
    world.settle()
    customer = str(paid["payment_intent"]["customer"])
    with world.engine.connect() as conn:
        assert (
            conn.execute(select(orders.c.state).where(orders.c.id == "ord_earlier")).scalar()
            == "paid"
        )
    return customer
