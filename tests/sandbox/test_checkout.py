"""Checkout Sessions: creation rules, expiry (API and clock), line items, lists."""

from __future__ import annotations

import pytest
import stripe

from paywindow.sandbox import SandboxHandle
from tests.sandbox.conftest import destination_params, session_params

TOO_EARLY = "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation."
TOO_LATE = "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation."


def test_open_session_shape(sandbox: SandboxHandle, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.id.startswith("cs_test_") and len(session.id) == 66
    assert session.status == "open" and session.payment_status == "unpaid"
    assert session.url == f"{sandbox.base_url}/c/pay/{session.id}"
    assert session.payment_intent is None
    assert session.amount_total == 2000 and session.currency == "usd"
    assert session.expires_at == session.created + 86_400
    assert session.success_url is not None and "{CHECKOUT_SESSION_ID}" in session.success_url
    assert session.metadata is not None and session.metadata["order_id"] == "ord_1"


@pytest.mark.parametrize(
    ("offset", "message"),
    [(30 * 60 - 1, TOO_EARLY), (86_400 + 1, TOO_LATE)],
    ids=["too-early", "too-late"],
)
def test_expires_at_bounds(
    sandbox: SandboxHandle, client: stripe.StripeClient, offset: int, message: str
) -> None:
    now = int(sandbox.now().timestamp())
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=session_params(expires_at=now + offset))
    assert caught.value.http_status == 400
    assert caught.value.param == "expires_at"
    assert caught.value.error is not None and caught.value.error.message == message


@pytest.mark.parametrize("offset", [30 * 60, 86_400], ids=["30-minutes", "24-hours"])
def test_expires_at_bounds_inclusive(
    sandbox: SandboxHandle, client: stripe.StripeClient, offset: int
) -> None:
    now = int(sandbox.now().timestamp())
    session = client.v1.checkout.sessions.create(params=session_params(expires_at=now + offset))
    assert session.expires_at == now + offset


def test_expire_open_then_again(client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired" and expired.url is None
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.expire(session.id)
    assert caught.value.error is not None and caught.value.error.message == (
        'Only Checkout Sessions with a status in ["open"] can be expired. '
        "This Checkout Session has a status of `expired`."
    )
    events = client.v1.events.list(params={"type": "checkout.session.expired"})
    assert [e.data.object["id"] for e in events] == [session.id]


def test_expire_complete_session(sandbox: SandboxHandle, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    sandbox.pay(session.id)
    with pytest.raises(stripe.InvalidRequestError, match="has a status of `complete`"):
        client.v1.checkout.sessions.expire(session.id)


def test_sessions_expire_with_the_clock(
    sandbox: SandboxHandle, client: stripe.StripeClient
) -> None:
    now = int(sandbox.now().timestamp())
    session = client.v1.checkout.sessions.create(
        params=session_params(
            expires_at=now + 3600, after_expiration={"recovery": {"enabled": True}}
        )
    )
    sandbox.advance(3599)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    sandbox.advance(1)
    expired = client.v1.checkout.sessions.retrieve(session.id)
    assert expired.status == "expired" and expired.url is None
    assert expired.after_expiration is not None and expired.after_expiration.recovery is not None
    assert expired.after_expiration.recovery.url is not None
    assert expired.after_expiration.recovery.expires_at == now + 3600 + 30 * 86_400
    (event,) = client.v1.events.list(params={"type": "checkout.session.expired"}).data
    assert event.created == now + 3600 and event.request is not None
    assert event.request.id is None


def test_expiry_cancels_the_failed_attempts_pi(
    sandbox: SandboxHandle, client: stripe.StripeClient
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    sandbox.pay(session.id, "decline", decline_code="insufficient_funds")
    client.v1.checkout.sessions.expire(session.id)
    pi_id = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    assert isinstance(pi_id, str)
    assert client.v1.payment_intents.retrieve(pi_id).status == "canceled"


def test_pi_carries_payment_intent_data_metadata_only(
    sandbox: SandboxHandle, client: stripe.StripeClient, seller: str
) -> None:
    session = client.v1.checkout.sessions.create(
        params=destination_params(seller, metadata={"order_id": "ord_1", "only": "session"})
    )
    sandbox.pay(session.id)
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert done.status == "complete" and done.payment_status == "paid" and done.url is None
    assert isinstance(done.payment_intent, str)
    pi = client.v1.payment_intents.retrieve(done.payment_intent)
    assert pi.metadata is not None and pi.metadata.to_dict() == {
        "order_id": "ord_1",
        "attempt": "1",
    }
    assert pi.transfer_data is not None and pi.transfer_data.destination == seller
    assert pi.application_fee_amount == 500
    assert isinstance(pi.latest_charge, str)
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.metadata is not None and charge.metadata["attempt"] == "1"


def test_fee_without_destination(client: stripe.StripeClient) -> None:
    params = session_params(payment_intent_data={"application_fee_amount": 100})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=params)
    assert caught.value.param == "payment_intent_data[application_fee_amount]"
    assert "Can only apply an application_fee_amount" in str(caught.value)


def test_unknown_destination(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=destination_params("acct_unknown"))
    assert caught.value.param == "payment_intent_data[transfer_data][destination]"


def test_customer_must_exist_and_excludes_email(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(
            params=session_params(customer="cus_nope", customer_email=None)
        )
    assert caught.value.code == "resource_missing" and caught.value.param == "customer"
    customer = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError, match="only specify one"):
        client.v1.checkout.sessions.create(params=session_params(customer=customer.id))


def test_line_items(client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    items = client.v1.checkout.sessions.line_items.list(session.id)
    (item,) = items.data
    assert item.quantity == 2 and item.amount_total == 2000 and item.description == "Vintage lamp"
    assert item.price is not None and item.price.unit_amount == 1000


def test_list_filters(sandbox: SandboxHandle, client: stripe.StripeClient) -> None:
    paid = client.v1.checkout.sessions.create(params=session_params())
    sandbox.pay(paid.id)
    client.v1.checkout.sessions.create(params=session_params())
    pi = client.v1.checkout.sessions.retrieve(paid.id).payment_intent
    assert isinstance(pi, str)
    by_pi = client.v1.checkout.sessions.list(params={"payment_intent": pi})
    assert [s.id for s in by_pi] == [paid.id]
    complete = client.v1.checkout.sessions.list(params={"status": "complete"})
    assert [s.id for s in complete] == [paid.id]
    assert len(client.v1.checkout.sessions.list(params={"status": "open"}).data) == 1
