"""Buyer outcomes: success, declines, async settlement, off-session retries with saved cards."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from paywindow.sandbox import SandboxHandle
from tests.sandbox.conftest import destination_params, session_params

DECLINES = [
    ("insufficient_funds", "card_declined", "try_again_later"),
    ("generic_decline", "card_declined", "try_again_later"),
    ("do_not_honor", "card_declined", "do_not_try_again"),
    ("expired_card", "expired_card", "confirm_card_data"),
    ("incorrect_cvc", "incorrect_cvc", "confirm_card_data"),
    ("processing_error", "processing_error", "try_again_later"),
    ("stolen_card", "card_declined", "do_not_try_again"),
    ("lost_card", "card_declined", "do_not_try_again"),
    ("fraudulent", "card_declined", None),
    ("authentication_required", "authentication_required", None),
]


def _types(client: stripe.StripeClient) -> list[str]:
    events = client.v1.events.list(params={"limit": 100}).data
    return [e.type for e in reversed(events) if not e.type.startswith("customer.")]


def test_success_event_order(
    sandbox: SandboxHandle, client: stripe.StripeClient, seller: str
) -> None:
    session = client.v1.checkout.sessions.create(params=destination_params(seller))
    sandbox.pay(session.id)
    assert _types(client) == [
        "payment_intent.created",
        "payment_intent.succeeded",
        "charge.succeeded",
        "checkout.session.completed",
        "application_fee.created",
        "transfer.created",
    ]


@pytest.mark.parametrize(("decline_code", "code", "advice"), DECLINES, ids=[d[0] for d in DECLINES])
def test_decline(
    sandbox: SandboxHandle,
    client: stripe.StripeClient,
    decline_code: str,
    code: str,
    advice: str | None,
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    result = sandbox.pay(session.id, "decline", decline_code=decline_code)
    assert result["error"]["decline_code"] == decline_code
    assert _types(client) == [
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
    ]
    (failed,) = client.v1.events.list(params={"type": "payment_intent.payment_failed"}).data
    pi = failed.data.object
    assert pi["status"] == "requires_payment_method"
    error = pi["last_payment_error"]
    assert (error["code"], error["decline_code"], error["advice_code"]) == (
        code,
        decline_code,
        advice,
    )
    assert error["charge"].startswith("ch_") and error["payment_method"]["id"].startswith("pm_")
    assert error["message"]
    charge = client.v1.charges.retrieve(error["charge"])
    assert charge.status == "failed" and charge.failure_code == code
    assert charge.outcome is not None and charge.outcome.reason == decline_code
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_retry_after_decline_reuses_the_pi(
    sandbox: SandboxHandle, client: stripe.StripeClient
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    first = sandbox.pay(session.id, "decline", decline_code="insufficient_funds")
    second = sandbox.pay(session.id)
    assert first["payment_intent"]["id"] == second["payment_intent"]["id"]
    pi = client.v1.payment_intents.retrieve(second["payment_intent"]["id"])
    assert pi.status == "succeeded" and pi.last_payment_error is None
    assert len(client.v1.charges.list(params={"payment_intent": pi.id}).data) == 2


@pytest.mark.parametrize("result", ["settle", "fail"])
def test_async_payment(sandbox: SandboxHandle, client: stripe.StripeClient, result: str) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    sandbox.pay(session.id, "success", async_=result, settle_after=3600)
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert done.status == "complete" and done.payment_status == "unpaid"
    sandbox.advance(3600)
    later = client.v1.checkout.sessions.retrieve(session.id)
    assert later.payment_status == ("paid" if result == "settle" else "unpaid")
    kinds = _types(client)
    assert kinds[:4] == [
        "payment_intent.created",
        "payment_intent.processing",
        "charge.pending",
        "checkout.session.completed",
    ]
    expected = f"checkout.session.async_payment_{'succeeded' if result == 'settle' else 'failed'}"
    assert expected in kinds[4:]


def test_off_session_retry_with_saved_card(
    sandbox: SandboxHandle, client: stripe.StripeClient, seller: str
) -> None:
    session = client.v1.checkout.sessions.create(params=destination_params(seller))
    paid = sandbox.pay(
        session.id,
        "decline",
        decline_code="insufficient_funds",
        save_payment_method=True,
    )
    customer = paid["payment_intent"]["customer"]
    pm = paid["payment_method"]["id"]
    client.v1.checkout.sessions.expire(session.id)
    client.v1.payment_methods.attach(pm, params={"customer": customer})
    sandbox.script_payment_method(
        pm, [{"outcome": "decline", "decline_code": "insufficient_funds"}]
    )
    params: Any = {
        "amount": 2000,
        "currency": "usd",
        "customer": customer,
        "payment_method": pm,
        "off_session": True,
        "confirm": True,
        "application_fee_amount": 500,
        "transfer_data": {"destination": seller},
        "metadata": {"order_id": "ord_1", "attempt": "2"},
    }
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.create(params=params)
    assert caught.value.http_status == 402 and caught.value.code == "card_declined"
    assert caught.value.error is not None
    assert caught.value.error.decline_code == "insufficient_funds"
    assert caught.value.error.payment_intent is not None
    assert caught.value.error.payment_intent.status == "requires_payment_method"
    params["metadata"] = {"order_id": "ord_1", "attempt": "3"}
    pi = client.v1.payment_intents.create(params=params)
    assert pi.status == "succeeded" and pi.metadata is not None and pi.metadata["attempt"] == "3"
    assert isinstance(pi.latest_charge, str)
    assert client.v1.charges.retrieve(pi.latest_charge).transfer is not None


def test_magic_test_payment_methods(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.create(
            params={
                "amount": 1000,
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclinedExpiredCard",
                "confirm": True,
            }
        )
    assert caught.value.code == "expired_card" and caught.value.param == "exp_month"
    ok = client.v1.payment_intents.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    assert ok.status == "succeeded"


def test_checkout_pi_cannot_be_cancelled(
    sandbox: SandboxHandle, client: stripe.StripeClient
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    result = sandbox.pay(session.id, "decline")
    with pytest.raises(stripe.InvalidRequestError, match="created by Checkout"):
        client.v1.payment_intents.cancel(result["payment_intent"]["id"])


def test_pay_refuses_closed_sessions(sandbox: SandboxHandle, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    client.v1.checkout.sessions.expire(session.id)
    with pytest.raises(Exception, match="status of `expired`"):
        sandbox.pay(session.id)
