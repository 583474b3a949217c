"""The buyer-population simulator and persistence across restarts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import stripe

from paywindow.sandbox import SandboxHandle, running_sandbox
from paywindow.sandbox.population import BuyerModel, BuyerPopulation
from tests.sandbox.conftest import START, session_params


def test_plan_is_seeded_and_bounded() -> None:
    first = BuyerPopulation(seed=3)
    second = BuyerPopulation(seed=3)
    plans = [first.plan(0, 86_400) for _ in range(200)]
    assert plans == [second.plan(0, 86_400) for _ in range(200)]
    delays = [delay for plan in plans for delay, _ in plan]
    assert all(0 <= d <= 86_400 for d in delays)
    shown = sum(1 for plan in plans if plan)
    assert 140 <= shown <= 195  # p_attempt = 0.85


def test_off_session_model() -> None:
    always = BuyerPopulation(BuyerModel(p_off_session_success={"insufficient_funds": (1.0,)}))
    assert always.off_session("insufficient_funds", 1).kind == "success"
    never = BuyerPopulation(seed=1)
    assert never.off_session("stolen_card", 1).decline_code == "stolen_card"


def test_population_pays_sessions_on_the_clock(
    sandbox: SandboxHandle, client: stripe.StripeClient
) -> None:
    sandbox.buyers(seed=11, p_attempt=1.0, decline_rate=0.5, async_share=0.0)
    ids = [
        client.v1.checkout.sessions.create(params=session_params(client_reference_id=f"ord_{i}")).id
        for i in range(40)
    ]
    sandbox.advance(86_400 + 1)
    statuses = Counter(client.v1.checkout.sessions.retrieve(i).status for i in ids)
    assert statuses["complete"] >= 15 and statuses["expired"] >= 5
    failed = client.v1.events.list(params={"type": "payment_intent.payment_failed", "limit": 100})
    codes = {e.data.object["last_payment_error"]["decline_code"] for e in failed}
    assert len(codes) >= 3


def test_population_drives_off_session_retries(
    sandbox: SandboxHandle, client: stripe.StripeClient
) -> None:
    sandbox.buyers(seed=2, p_off_session_success={"insufficient_funds": [0.0, 1.0]})
    session = client.v1.checkout.sessions.create(params=session_params())
    paid = sandbox.pay(
        session.id, "decline", decline_code="insufficient_funds", save_payment_method=True
    )
    pm, customer = paid["payment_method"]["id"], paid["payment_intent"]["customer"]
    client.v1.payment_methods.attach(pm, params={"customer": customer})
    params: Any = {
        "amount": 2000,
        "currency": "usd",
        "customer": customer,
        "payment_method": pm,
        "off_session": True,
        "confirm": True,
    }
    try:
        client.v1.payment_intents.create(params=params)
    except stripe.CardError as error:
        assert error.error is not None and error.error.decline_code == "insufficient_funds"
    else:
        raise AssertionError("the first off-session attempt must decline")
    assert client.v1.payment_intents.create(params=params).status == "succeeded"


def test_state_survives_restart(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    with running_sandbox(start=START, state_file=state) as sandbox:
        client = sandbox.client()
        session = client.v1.checkout.sessions.create(params=session_params())
        sandbox.pay(session.id)
        sandbox.advance(3600)
        later = sandbox.now()
    assert state.exists()
    with running_sandbox(state_file=state) as again:
        client = again.client()
        restored = client.v1.checkout.sessions.retrieve(session.id)
        assert restored.status == "complete"
        assert again.now() == later
        events = client.v1.events.list(params={"type": "checkout.session.completed"})
        assert [e.data.object["id"] for e in events] == [session.id]
        fresh = client.v1.checkout.sessions.create(params=session_params())
        assert client.v1.checkout.sessions.list().data[0].id == fresh.id


def test_buyers_act_on_a_retry_link_only_once_told(
    sandbox: SandboxHandle, client: stripe.StripeClient
) -> None:
    """With ``links_need_notice`` a buyer never finds a retry link by themselves: only the
    marketplace's notice (``notify_buyer``) makes them look, ``notice_to_action_s`` later."""
    sandbox.buyers(
        seed=2,
        p_attempt=1.0,
        p_pay_retry_link=(1.0,),
        decline_rate=0.0,
        async_share=0.0,
        time_to_pay_median_s=30.0,
        time_to_pay_sigma=0.01,
        links_need_notice=True,
        notice_to_action_s=600.0,
    )
    first = client.v1.checkout.sessions.create(params=session_params(client_reference_id="ord_n"))
    sandbox.advance(120)
    assert client.v1.checkout.sessions.retrieve(first.id).status == "complete"
    untold = client.v1.checkout.sessions.create(params=session_params(client_reference_id="ord_n"))
    told = client.v1.checkout.sessions.create(params=session_params(client_reference_id="ord_n"))
    assert sandbox.notify_buyer(told.id) is True
    assert sandbox.notify_buyer(told.id) is False  # a second notice changes nothing
    sandbox.advance(300)  # before the notice-to-action delay: nobody has looked yet
    assert client.v1.checkout.sessions.retrieve(told.id).status == "open"
    sandbox.advance(600)
    assert client.v1.checkout.sessions.retrieve(told.id).status == "complete"
    assert client.v1.checkout.sessions.retrieve(untold.id).status == "open"
