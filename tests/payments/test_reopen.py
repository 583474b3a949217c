"""Reopening checkout is safe: a session the buyer paid (webhook late) is recorded, never
replaced; one Stripe expired (webhook late) is replaced, never handed back; identical
concurrent order creations all get the same order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.concurrency import at_once
from tests.world import World, build_world


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    with build_world(engine) as built:
        built.sandbox.chaos(delay=10**7)  # Stripe's webhooks are late: nothing arrives
        yield built


def _sessions_of(world: World, order_id: str) -> list[Any]:
    found = world.stripe.v1.checkout.sessions.list(params={"limit": 100}).data
    return [s for s in found if s.client_reference_id == order_id]


def _reopen(world: World, order_id: str) -> httpx.Response:
    return world.api("POST", f"/v1/orders/{order_id}/checkout")


@pytest.mark.parametrize("wait", [0, 23 * 3600 + 54 * 60 + 30], ids=["usable", "last-minute"])
def test_reopen_after_an_unrecorded_payment_shows_it_paid(world: World, wait: int) -> None:
    created = world.create("ord_paid_late").json()
    world.sandbox.pay(created["session_id"], "success")
    world.advance(wait)
    answer = _reopen(world, "ord_paid_late")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "paid"
    assert answer.json()["checkout_url"] is None
    assert len(_sessions_of(world, "ord_paid_late")) == 1  # never a second payable session


def test_reopen_after_stripe_expired_the_session_opens_a_new_one(world: World) -> None:
    created = world.create("ord_dead").json()
    world.stripe.v1.checkout.sessions.expire(created["session_id"])
    answer = _reopen(world, "ord_dead")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["state"] == "awaiting_payment"
    assert body["session_id"] != created["session_id"]
    live = world.stripe.v1.checkout.sessions.retrieve(body["session_id"])
    assert live.status == "open" and body["checkout_url"] == live.url


def test_concurrent_reopens_open_one_session(world: World) -> None:
    created = world.create("ord_clicks").json()
    world.stripe.v1.checkout.sessions.expire(created["session_id"])
    world.sandbox.faults(latency_ms=300)
    try:
        answers = at_once([lambda: _reopen(world, "ord_clicks")] * 4)
    finally:
        world.sandbox.faults()
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert len({a.json()["session_id"] for a in answers}) == 1
    assert len(_sessions_of(world, "ord_clicks")) == 2


def test_identical_concurrent_creations_get_the_same_order(world: World) -> None:
    world.sandbox.faults(latency_ms=200)
    try:
        answers = at_once([lambda: world.create("ord_same")] * 6)
    finally:
        world.sandbox.faults()
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 5 + [201], [a.text for a in answers]
    assert len({a.json()["session_id"] for a in answers}) == 1
    assert len(_sessions_of(world, "ord_same")) == 1
    other = world.create("ord_same", currency="eur")
    assert other.status_code == 409
