"""Helpers for retry tests: a policy, a failed order, reads of plans, attempts and outbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from paywindow.retries import RetryPolicy, run_retries
from paywindow.retries.run import RunReport
from paywindow.store.outbox import pending_messages
from paywindow.store.tables import orders, retry_attempts, retry_plans
from tests.world import World


def retry_policy(world: World, offsets: tuple[float, ...] = (1, 6, 18)) -> RetryPolicy:
    return RetryPolicy(
        checkout=world.service.policy, offsets=tuple(timedelta(hours=h) for h in offsets)
    )


def failed_order(
    world: World,
    order_id: str,
    decline_code: str = "insufficient_funds",
    buyer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Open an order and let its buyer's card decline in Checkout; return the pay result."""
    response = world.create(order_id, **({"buyer": buyer} if buyer else {}))
    assert response.status_code == 201, response.text
    session_id = response.json()["session_id"]
    result = world.sandbox.pay(session_id, "decline", decline_code=decline_code)
    world.settle()
    return result


def run(world: World, policy: RetryPolicy | None = None) -> RunReport:
    report = run_retries(
        world.engine, world.stripe, policy or retry_policy(world), world.clock.now()
    )
    world.settle()
    return report


def attempts_of(world: World, order_id: str) -> list[dict[str, Any]]:
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(retry_attempts)
            .where(retry_attempts.c.order_id == order_id)
            .order_by(retry_attempts.c.number)
        ).mappings()
        return [dict(r) for r in rows]


def plan_of(world: World, order_id: str) -> dict[str, Any]:
    with world.engine.connect() as conn:
        row = (
            conn.execute(select(retry_plans).where(retry_plans.c.order_id == order_id))
            .mappings()
            .first()
        )
        assert row is not None, f"no plan for {order_id}"
        return dict(row)


def state_of(world: World, order_id: str) -> str:
    with world.engine.connect() as conn:
        return str(conn.execute(select(orders.c.state).where(orders.c.id == order_id)).scalar())


def links(world: World) -> list[dict[str, Any]]:
    with world.engine.connect() as conn:
        return pending_messages(conn, "payment.retry_link")
