"""Money moves once: concurrent retries, a scheduled run and late webhooks never charge twice.

Each test slows the sandbox to a realistic Stripe latency and counts at the sandbox.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from paywindow.errors import Conflict
from paywindow.retries import retry_now, run_retries
from tests.concurrency import at_once
from tests.retries.helpers import attempts_of, failed_order, retry_policy, state_of
from tests.retries.test_retries import _buyer, _customer_with_saved_card
from tests.world import World


def _succeeded_charges(world: World, customer: str) -> list[Any]:
    intents = world.stripe.v1.payment_intents.list(params={"customer": customer, "limit": 100})
    succeeded = [pi.to_dict() for pi in intents.data if pi.status == "succeeded"]
    return [pi for pi in succeeded if pi["metadata"].get("paywindow_order_id") != "ord_earlier"]


@pytest.fixture
def saved_card_failure(world: World) -> str:
    """An order whose Checkout card declined, by a buyer with a card saved that will pay."""
    customer = _customer_with_saved_card(world)
    failed_order(world, "ord_twice", buyer=_buyer(customer))
    cards = world.stripe.v1.payment_methods.list(params={"customer": customer, "type": "card"})
    for card in cards.data:
        world.sandbox.script_payment_method(card.id, [], {"outcome": "success"})
    world.advance(timedelta(minutes=10))
    return customer


@pytest.mark.parametrize("stagger", [0.0, 0.3], ids=["at-once", "300ms-apart"])
def test_concurrent_manual_retries_charge_once(
    world: World, saved_card_failure: str, stagger: float
) -> None:
    policy = retry_policy(world)
    world.sandbox.faults(latency_ms=400)

    def manual() -> Any:
        return retry_now(world.engine, world.stripe, "ord_twice", policy, world.clock.now())

    try:
        results = at_once([manual, manual, manual], stagger=stagger)
    finally:
        world.sandbox.faults()
    world.settle()
    succeeded = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(succeeded) + len(refused) == 3, results
    assert [r["outcome"] for r in succeeded] == ["succeeded"], results
    assert all("running" in str(r) or "paid" in str(r) for r in refused), refused
    assert len(_succeeded_charges(world, saved_card_failure)) == 1
    assert state_of(world, "ord_twice") == "paid"


def test_manual_retry_and_the_scheduled_run_charge_once(
    world: World, saved_card_failure: str
) -> None:
    policy = retry_policy(world)
    run_retries(world.engine, world.stripe, policy, world.clock.now())  # opens the plan
    world.advance(timedelta(hours=1))
    world.sandbox.faults(latency_ms=400)

    def manual() -> Any:
        return retry_now(world.engine, world.stripe, "ord_twice", policy, world.clock.now())

    def scheduled() -> Any:
        return run_retries(world.engine, world.stripe, policy, world.clock.now())

    try:
        at_once([manual, scheduled, manual, scheduled])
    finally:
        world.sandbox.faults()
    world.settle()
    assert len(_succeeded_charges(world, saved_card_failure)) == 1
    assert state_of(world, "ord_twice") == "paid"
    outcomes = [a["outcome"] for a in attempts_of(world, "ord_twice")]
    assert outcomes.count("succeeded") == 1, outcomes


def test_an_order_held_for_review_is_never_retried(world: World) -> None:
    from sqlalchemy import update

    from paywindow.store.tables import orders
    from tests.retries.helpers import plan_of, run

    failed_order(world, "ord_held")
    run(world)  # opens the plan
    with world.engine.begin() as conn:
        conn.execute(
            update(orders)
            .where(orders.c.id == "ord_held")
            .values(state="payment_mismatch", held_reason="amount 2600 is not the order's 2500")
        )
    sessions_before = len(world.stripe.v1.checkout.sessions.list(params={"limit": 100}).data)
    world.advance(timedelta(hours=1))
    run(world)
    assert len(world.stripe.v1.checkout.sessions.list(params={"limit": 100}).data) == (
        sessions_before
    )
    assert plan_of(world, "ord_held")["close_reason"] == "held_for_review"
    assert {a["status"] for a in attempts_of(world, "ord_held")} == {"dropped"}
