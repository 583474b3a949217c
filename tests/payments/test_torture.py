"""The concurrency torture test: a seeded day of everything at once, then counted at Stripe.

Orders are created twice at once; buyers pay, decline and click "pay" again while paywindow
reopens checkout, support retries by hand, two scheduled retry runs overlap, two expiry runs
overlap at the deadline, and Stripe (the sandbox, 300 ms per call) delivers webhooks late,
duplicated and out of order while a processor applies them. Afterwards, at the sandbox:

* no order has more than one succeeded payment that was not refunded;
* every payment Stripe completed after its order's deadline was refunded exactly once;
* every webhook Stripe saw acknowledged is in the event log.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, select

from paywindow.errors import PaywindowError
from paywindow.inbox.processor import process_due
from paywindow.jobs import expire_windows
from paywindow.retries import retry_now, run_retries
from paywindow.sandbox import SandboxControlError
from paywindow.store.outbox import pending_messages
from paywindow.store.tables import event_log, orders
from tests.concurrency import at_once
from tests.resources import resources_for
from tests.retries.helpers import retry_policy
from tests.retries.test_retries import _customer_with_saved_card
from tests.world import World, build_world

SEED = 20261201
ORDERS = 12
LATENCY_MS = 300


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    with build_world(engine) as built:
        yield built


def _together(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Every call at once; refusals (409, a closed session) are answers, anything else fails."""
    results = at_once(calls)
    expected = (PaywindowError, SandboxControlError)
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, expected)]
    assert not unexpected, unexpected
    return results


class _Processor:
    """Applies recorded events continuously, as ``serve`` does."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            process_due(self.world.engine, self.world.clock.now())

    def __enter__(self) -> _Processor:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


def test_money_moves_once_under_everything_at_once(world: World) -> None:
    rng = random.Random(SEED)
    customer = _customer_with_saved_card(world)
    for card in world.stripe.v1.payment_methods.list(
        params={"customer": customer, "type": "card"}
    ).data:
        world.sandbox.script_payment_method(card.id, [], {"outcome": "success"})
    ids = [f"ord_t{n}" for n in range(ORDERS)]
    actions = ["pay", "decline", "decline", "idle"] * (ORDERS // 4)
    rng.shuffle(actions)
    plan = dict(zip(ids, actions, strict=True))
    saved = {oid: rng.random() < 0.5 for oid in ids}
    policy = retry_policy(world)
    world.sandbox.chaos(duplicate=0.3, reorder=20, seed=SEED)
    world.sandbox.faults(latency_ms=LATENCY_MS)
    with _Processor(world):
        sessions = _create_twice__together(world, ids, saved, customer)
        deadline = _deadline(world, ids[0])
        # buyers act while their app reopens checkout twice
        _together(
            [partial(_buyer, world, sessions[oid], plan[oid]) for oid in ids]
            + [partial(world.api, "POST", f"/v1/orders/{oid}/checkout") for oid in ids] * 2
        )
        world.advance(60)
        # an hour later: two scheduled runs, support's manual retries, buyers paying again
        world.advance(timedelta(hours=1))
        failed = [oid for oid in ids if plan[oid] == "decline"]
        now = world.clock.now()
        _together(
            [lambda: run_retries(world.engine, world.stripe, policy, now)] * 2
            + [partial(retry_now, world.engine, world.stripe, oid, policy, now) for oid in failed]
            + [partial(_pay_quietly, world, sessions[oid]) for oid in failed[::2]]
        )
        world.advance(60)
        # the buyers told of a retry link pay it while the next run starts
        links = _retry_links(world)
        now = world.clock.now()
        _together(
            [lambda: run_retries(world.engine, world.stripe, policy, now)]
            + [partial(_pay_quietly, world, s) for s in links[::2]]
        )
        # the last minutes: idle buyers come back, then pay just after the deadline while two
        # expiry runs overlap
        world.advance(deadline - timedelta(minutes=4) - world.clock.now())
        idle = [oid for oid in ids if plan[oid] == "idle"] + failed[1::2]
        reopened = _together(
            [partial(world.api, "POST", f"/v1/orders/{oid}/checkout") for oid in idle] * 2
        )
        late_sessions = {r.json()["session_id"] for r in reopened if r.status_code == 200}
        world.advance(deadline + timedelta(seconds=1) - world.clock.now())
        _together(
            [
                lambda: expire_windows(
                    resources_for(world.engine, world.stripe), world.clock, horizon=0
                )
            ]
            * 2
            + [partial(_pay_quietly, world, s) for s in late_sessions]
        )
        world.sandbox.chaos()
        for _ in range(3):  # Stripe redelivers, the expiry runs again (refunds), twice at once
            world.advance(timedelta(hours=1))
            world.sandbox.flush_webhooks()
            _together(
                [
                    lambda: expire_windows(
                        resources_for(world.engine, world.stripe), world.clock, horizon=0
                    )
                ]
                * 2
            )
    world.sandbox.faults()
    world.settle()
    counts = _count_at_stripe(world, ids)
    print("torture:", dict(counts))
    assert counts["orders_with_two_unrefunded_payments"] == 0, counts
    assert counts["late_payments"] == counts["late_payments_refunded_once"], counts
    assert counts["acknowledged_missing_from_log"] == 0, counts
    assert counts["late_payments"] > 0 and counts["acknowledged_events"] > 0, counts


def _create_twice__together(
    world: World, ids: list[str], saved: dict[str, bool], customer: str
) -> dict[str, str]:
    def create(oid: str) -> Any:
        buyer = {"id": f"u_{oid}", "email": f"{oid}@example.com", "customer": None}
        if saved[oid]:
            buyer = {"id": "u_saved", "email": None, "customer": customer}
        return world.create(oid, buyer=buyer)

    answers = _together([partial(create, oid) for oid in ids] * 2)
    assert sorted(Counter(a.status_code for a in answers).items()) == [
        (200, len(ids)),
        (201, len(ids)),
    ], [a.text for a in answers if a.status_code >= 300]
    return {a.json()["order_id"]: a.json()["session_id"] for a in answers}


def _deadline(world: World, order_id: str) -> datetime:
    with world.engine.connect() as conn:
        found: datetime = conn.execute(
            select(orders.c.deadline).where(orders.c.id == order_id)
        ).scalar_one()
    return found


def _buyer(world: World, session_id: str, action: str) -> Any:
    if action == "pay":
        return _pay_quietly(world, session_id)
    if action == "decline":
        return world.sandbox.pay(session_id, "decline", decline_code="insufficient_funds")
    return None


def _pay_quietly(world: World, session_id: str) -> Any:
    """A buyer presses pay; a session closed meanwhile refuses, as Stripe's page would."""
    try:
        return world.sandbox.pay(session_id, "success")
    except SandboxControlError as exc:
        return exc


def _retry_links(world: World) -> list[str]:
    with world.engine.connect() as conn:
        return [m["payload"]["session_id"] for m in pending_messages(conn, "payment.retry_link")]


def _count_at_stripe(world: World, ids: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    deadlines = {oid: _deadline(world, oid) for oid in ids}
    unrefunded: Counter[str] = Counter()
    intents = world.stripe.v1.payment_intents.list(params={"limit": 100})
    for intent in intents.auto_paging_iter():
        data = intent.to_dict()
        oid = (data.get("metadata") or {}).get("paywindow_order_id")
        if oid not in deadlines or data["status"] != "succeeded":
            continue
        counts["succeeded_payments"] += 1
        charge = world.stripe.v1.charges.retrieve(str(data["latest_charge"])).to_dict()
        refunds = world.stripe.v1.refunds.list(params={"charge": charge["id"]}).data
        if charge["amount_refunded"] < charge["amount"]:
            unrefunded[oid] += 1
        paid_at = datetime.fromtimestamp(int(charge["created"]), deadlines[oid].tzinfo)
        if paid_at > deadlines[oid]:
            counts["late_payments"] += 1
            counts["late_payments_refunded_once"] += int(
                len(refunds) == 1 and charge["amount_refunded"] == charge["amount"]
            )
    counts["orders_with_two_unrefunded_payments"] = sum(1 for n in unrefunded.values() if n > 1)
    store = world.sandbox.sandbox.engine.store
    delivered = {
        event.id
        for event in world.stripe.v1.events.list(params={"limit": 100}).auto_paging_iter()
        if store.extra(event.id).get("delivered")
    }
    with world.engine.connect() as conn:
        logged = {r.event_id for r in conn.execute(select(event_log.c.event_id))}
    counts["acknowledged_events"] = len(delivered)
    counts["acknowledged_missing_from_log"] = len(delivered - logged)
    with world.engine.connect() as conn:
        states = Counter(r.state for r in conn.execute(select(orders.c.state)))
    for state, n in states.items():
        counts[f"orders_{state}"] = n
    return counts


def test_overlapping_expiry_runs_refund_and_count_a_late_payment_once(engine: Engine) -> None:
    from paywindow.observability import RecordingMetrics, configure_metrics
    from paywindow.payments.expiry import refund_late_payments

    recorded = RecordingMetrics()
    previous = configure_metrics(recorded)
    try:
        with build_world(engine, window=timedelta(minutes=20)) as world:
            view = world.create("ord_late").json()
            world.advance(timedelta(minutes=20, seconds=1))  # the session outlives the deadline
            world.sandbox.pay(view["session_id"], "success")
            world.settle()
            world.sandbox.faults(latency_ms=LATENCY_MS)
            now = world.clock.now()
            runs = _together([lambda: refund_late_payments(world.engine, world.stripe, now)] * 3)
            world.sandbox.faults()
            refunds = world.stripe.v1.refunds.list(params={"limit": 10}).data
    finally:
        configure_metrics(previous)
    assert sorted(len(r) for r in runs) == [0, 0, 1]
    assert len(refunds) == 1
    assert recorded.total("payments.expiry.late_refunds") == 1
