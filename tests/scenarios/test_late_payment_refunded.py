"""Worked example: a buyer pays one second after the window closed; the money goes back.

A 20-minute window (an auction's last call) with a Checkout Session that Stripe keeps open
for at least 30 minutes: the buyer can still pay after the deadline, and paywindow refunds it
in full, seller's transfer and platform fee included, exactly once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from paywindow.jobs import expire_windows
from paywindow.store.outbox import pending_messages
from paywindow.store.tables import orders
from tests.resources import resources_for
from tests.world import World, build_world


def _state(world: World) -> str:
    with world.engine.connect() as conn:
        return str(conn.execute(select(orders.c.state).where(orders.c.id == "ord_late")).scalar())


def _expire(world: World) -> dict[str, object]:
    return expire_windows(resources_for(world.engine, world.stripe), world.clock, horizon=0)


def test_a_payment_after_the_deadline_is_refunded_once(engine: Engine) -> None:
    with build_world(engine, window=timedelta(minutes=20)) as world:
        # 1. The order opens; its session outlives the 20-minute window (Stripe's 30 min minimum).
        view = world.create("ord_late").json()
        session = world.stripe.v1.checkout.sessions.retrieve(view["session_id"])
        assert session.expires_at > int(world.clock.now().timestamp()) + 20 * 60

        # 2. The deadline passes; the buyer pays a second later, before Stripe hears of it.
        world.advance(timedelta(minutes=20, seconds=1))
        world.sandbox.pay(view["session_id"], "success")
        assert world.api("GET", "/v1/orders/ord_late").json()["state"] == "expired"

        # 3. The expiry run closes the window, learns of the payment from Stripe (its webhook
        #    has not arrived), judges it by Stripe's time — after the deadline — and refunds it.
        assert _expire(world)["late_refunds"] == 1
        world.settle()
        assert _state(world) == "late_payment_refunded"

        # 4. A run overlapping it, and the next one, refund nothing more.
        assert _expire(world)["late_refunds"] == 0
        world.advance(60)
        assert _expire(world)["late_refunds"] == 0

        # 5. At Stripe: one refund of 25.00, the seller's transfer reversed, the fee returned.
        (refund,) = world.stripe.v1.refunds.list(params={"limit": 10}).data
        assert (refund.amount, refund.metadata["paywindow_reason"]) == (2500, "late_payment")
        (transfer,) = world.stripe.v1.transfers.list(params={"limit": 10}).data
        assert transfer.amount_reversed == 2500
        (fee,) = world.stripe.v1.application_fees.list(params={"limit": 10}).data
        assert fee.amount_refunded == 300

        # 6. The marketplace was told twice: the window closed, then the refund.
        with world.engine.connect() as conn:
            topics = [m["topic"] for m in pending_messages(conn)]
        assert topics == ["order.expired", "order.late_payment_refunded"]
