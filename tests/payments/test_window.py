"""The payment window against the sandbox and its clock: closed on time to the second,
late payments refunded, early payments honoured, missed webhooks recovered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from paywindow.inbox.backstop import backstop_sweep
from paywindow.payments.expiry import (
    DeadlineTimer,
    close_overdue,
    expire_stripe_sessions,
    refund_late_payments,
)
from paywindow.payments.repository import get_order
from paywindow.store.outbox import pending_messages
from paywindow.store.tables import orders
from tests.world import World, build_world


def _order(world: World, order_id: str) -> dict[str, Any]:
    with world.engine.connect() as conn:
        return get_order(conn, order_id)


def test_closed_exactly_at_the_deadline_not_a_second_before(world: World) -> None:
    world.create("ord_w")
    deadline = world.clock.now() + timedelta(hours=24)
    world.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert close_overdue(world.engine, world.clock.now()) == []
    assert _order(world, "ord_w")["state"] == "awaiting_payment"
    world.advance(1)
    assert close_overdue(world.engine, world.clock.now()) == ["ord_w"]
    got = _order(world, "ord_w")
    assert got["state"] == "expired"
    assert got["window_closed_at"] == deadline
    assert got["transitions"][-1]["reason"] == "payment window closed"
    with world.engine.connect() as conn:
        (message,) = pending_messages(conn, "order.expired")
    assert message["payload"]["order_id"] == "ord_w"
    assert close_overdue(world.engine, world.clock.now()) == []  # idempotent


def test_the_timer_closes_each_window_inside_the_minute_on_time(world: World) -> None:
    for n in range(3):
        world.create(f"ord_t{n}")
        world.advance(7.25)
    deadlines = {oid: dl for oid, dl in _deadlines(world) if oid.startswith("ord_t")}
    world.advance(timedelta(hours=24) - timedelta(seconds=30))

    def sleep(seconds: float) -> None:
        world.clock.advance(seconds)

    timer = DeadlineTimer(world.engine, world.clock, sleep=sleep)
    closed = timer.run(world.clock.now() + timedelta(seconds=60))
    assert {oid for oid, _, _ in closed} == set(deadlines)
    for order_id, deadline, closed_at in closed:
        assert deadline == deadlines[order_id]
        assert abs((closed_at - deadline).total_seconds()) <= 0.001


def _deadlines(world: World) -> list[tuple[str, object]]:
    with world.engine.connect() as conn:
        return [(r.id, r.deadline) for r in conn.execute(select(orders.c.id, orders.c.deadline))]


def test_a_session_opened_in_the_last_half_hour_is_ended_at_the_deadline(engine: Engine) -> None:
    with build_world(engine, window=timedelta(minutes=20)) as world:
        view = world.create("ord_short").json()
        session = world.stripe.v1.checkout.sessions.retrieve(view["session_id"])
        assert session.expires_at > int((world.clock.now() + timedelta(minutes=30)).timestamp())
        world.advance(timedelta(minutes=20))
        assert close_overdue(world.engine, world.clock.now()) == ["ord_short"]
        assert expire_stripe_sessions(world.engine, world.stripe, world.clock.now()) == 1
        assert world.stripe.v1.checkout.sessions.retrieve(session.id).status == "expired"
        world.settle()
        assert _order(world, "ord_short")["state"] == "expired"


def test_a_payment_completed_after_the_deadline_is_refunded(engine: Engine) -> None:
    with build_world(engine, window=timedelta(minutes=20)) as world:
        view = world.create("ord_late").json()
        world.advance(timedelta(minutes=20, seconds=1))  # the session outlives the deadline
        world.sandbox.pay(view["session_id"], "success")
        world.settle()
        assert _order(world, "ord_late")["state"] == "expired"
        assert refund_late_payments(world.engine, world.stripe, world.clock.now()) == ["ord_late"]
        assert refund_late_payments(world.engine, world.stripe, world.clock.now()) == []
        world.settle()
        got = _order(world, "ord_late")
        assert got["state"] == "late_payment_refunded"
        assert got["amount_refunded"] == 2500
        (refund,) = world.stripe.v1.refunds.list(params={"limit": 10}).data
        assert refund.metadata["paywindow_reason"] == "late_payment"
        with world.engine.connect() as conn:
            assert pending_messages(conn, "order.late_payment_refunded")


def test_a_payment_one_second_before_the_deadline_wins_over_the_expiry(engine: Engine) -> None:
    with build_world(engine, window=timedelta(minutes=20)) as world:
        world.sandbox.chaos(delay=3600)  # webhooks arrive an hour late
        view = world.create("ord_race").json()
        world.advance(timedelta(minutes=20) - timedelta(seconds=1))
        world.sandbox.pay(view["session_id"], "success")
        world.advance(1)
        assert close_overdue(world.engine, world.clock.now()) == ["ord_race"]
        assert expire_stripe_sessions(world.engine, world.stripe, world.clock.now()) == 0
        assert (
            backstop_sweep(world.engine, world.stripe, world.clock.now(), stale_after=timedelta(0))
            == 1
        )
        world.settle()
        got = _order(world, "ord_race")
        assert got["state"] == "paid"
        assert [t["to_state"] for t in got["transitions"]][-2:] == ["expired", "paid"]
        assert refund_late_payments(world.engine, world.stripe, world.clock.now()) == []


def test_a_missed_completion_webhook_is_recovered_by_the_backstop(world: World) -> None:
    world.sandbox.chaos(drop=1.0, types=["checkout.session.completed"])
    view = world.create("ord_missed").json()
    world.sandbox.pay(view["session_id"], "success")
    world.settle()
    assert _order(world, "ord_missed")["state"] == "paid"  # payment_intent.succeeded still came
    world.sandbox.chaos(drop=1.0)
    view = world.create("ord_silent").json()
    world.sandbox.pay(view["session_id"], "success")
    world.settle()
    assert _order(world, "ord_silent")["state"] == "awaiting_payment"
    world.advance(timedelta(minutes=6))
    assert backstop_sweep(world.engine, world.stripe, world.clock.now()) == 1
    world.settle()
    assert _order(world, "ord_silent")["state"] == "paid"
    assert backstop_sweep(world.engine, world.stripe, world.clock.now()) == 0
