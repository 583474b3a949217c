"""Worked example: a card declines, the buyer is sent a retry link an hour later, and pays it.

Meanwhile the buyer also taps "pay" on the old checkout page and support presses "retry" —
and the buyer is still charged exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from paywindow.sandbox import SandboxControlError
from paywindow.store.tables import orders
from tests.retries.helpers import attempts_of, links, plan_of, run
from tests.world import World, build_world


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    with build_world(engine) as built:
        yield built


def _order(world: World) -> dict[str, object]:
    with world.engine.connect() as conn:
        row = conn.execute(select(orders).where(orders.c.id == "ord_story")).mappings().one()
        return dict(row)


def test_a_decline_then_a_retry_link_then_paid(world: World) -> None:
    # 1. The marketplace opens the order: 25.00 USD, 3.00 of it the platform's fee.
    created = world.create("ord_story")
    assert created.status_code == 201
    first_session = created.json()["session_id"]
    assert _order(world)["state"] == "awaiting_payment"

    # 2. The buyer's card is declined for insufficient funds.
    world.sandbox.pay(first_session, "decline", decline_code="insufficient_funds")
    world.settle()
    assert _order(world)["state"] == "payment_failed"

    # 3. The retry run opens the plan: three tries at 1 h, 6 h and 18 h after the decline.
    run(world)
    plan = plan_of(world, "ord_story")
    assert (plan["status"], plan["decline_class"]) == ("open", "soft")
    assert [a["status"] for a in attempts_of(world, "ord_story")] == ["scheduled"] * 3

    # 4. An hour later the buyer (no saved card) is sent a retry link; the old page is closed.
    world.advance(timedelta(hours=1))
    run(world)
    (message,) = links(world)
    link_session = message["payload"]["session_id"]
    assert link_session != first_session
    assert world.stripe.v1.checkout.sessions.retrieve(first_session).status == "expired"
    assert _order(world)["state"] == "awaiting_payment"

    # 5. The buyer taps "pay" on the old page: refused, it is closed.
    with pytest.raises(SandboxControlError):
        world.sandbox.pay(first_session, "success")

    # 6. The buyer pays the link; support presses "retry" a moment later: nothing to retry.
    world.sandbox.pay(link_session, "success")
    world.settle()
    assert _order(world)["state"] == "paid"
    refused = world.support("POST", "/v1/orders/ord_story/retry")
    assert refused.status_code == 409

    # 7. The plan closes as paid; the buyer was charged once: 25.00 to the seller, of which
    #    3.00 comes back to the platform as its fee.
    run(world)
    assert plan_of(world, "ord_story")["close_reason"] == "paid"
    intents = world.stripe.v1.payment_intents.list(params={"limit": 100}).data
    succeeded = [pi for pi in intents if pi.status == "succeeded"]
    assert len(succeeded) == 1 and succeeded[0].amount_received == 2500
    transfers = world.stripe.v1.transfers.list(params={"limit": 10}).data
    assert [t.amount for t in transfers] == [2500]
    fees = world.stripe.v1.application_fees.list(params={"limit": 10}).data
    assert [f.amount for f in fees] == [300]
