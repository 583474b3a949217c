"""Missed webhooks recovered: events pulled from Stripe's event log, orders re-read."""

from __future__ import annotations

from datetime import timedelta

from paywindow.cli.views import list_events
from paywindow.inbox.backfill import backfill_events, resync_orders
from paywindow.payments.repository import get_order
from tests.world import World


def _state(world: World, order_id: str) -> str:
    with world.engine.connect() as conn:
        return str(get_order(conn, order_id)["state"])


def test_dropped_webhooks_are_recovered_from_the_event_log(world: World) -> None:
    start = world.clock.now()
    world.sandbox.chaos(drop=1.0)
    view = world.create("ord_bf").json()
    world.sandbox.pay(view["session_id"], "decline", decline_code="insufficient_funds")
    world.sandbox.pay(view["session_id"], "success")
    world.settle()
    assert _state(world, "ord_bf") == "awaiting_payment"
    report = backfill_events(world.engine, world.stripe, start, world.clock.now())
    assert report.recorded == report.fetched > 3
    assert _state(world, "ord_bf") == "paid"
    again = backfill_events(world.engine, world.stripe, start, world.clock.now())
    assert (again.fetched, again.recorded) == (report.fetched, 0)
    sources = {e["event_id"] for e in list_events(world.engine, limit=500)}
    assert len(sources) == report.fetched


def test_resync_reads_the_sessions_of_orders_in_a_range(world: World) -> None:
    world.sandbox.chaos(drop=1.0)
    start = world.clock.now()
    view = world.create("ord_rs").json()
    world.sandbox.pay(view["session_id"], "success")
    world.settle()
    assert _state(world, "ord_rs") == "awaiting_payment"
    end = world.clock.now() + timedelta(seconds=1)
    report = resync_orders(world.engine, world.stripe, start, end, world.clock.now())
    assert (report.fetched, report.recorded) == (1, 1)
    assert _state(world, "ord_rs") == "paid"
