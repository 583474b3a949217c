"""Webhooks: signed deliveries, retries, chaos switches, the events API and retention."""

from __future__ import annotations

import stripe

from paywindow.sandbox import SandboxHandle, running_sandbox
from tests.sandbox.conftest import START, Receiver, session_params


def _pay_one(sandbox: SandboxHandle, client: stripe.StripeClient) -> str:
    session = client.v1.checkout.sessions.create(params=session_params())
    sandbox.pay(session.id)
    return session.id


def test_signed_deliveries_verify(
    sandbox: SandboxHandle, client: stripe.StripeClient, receiver: Receiver
) -> None:
    secret = sandbox.register_webhook(receiver.url)
    assert secret.startswith("whsec_")
    sandbox.advance(10 * 86_400)  # the sandbox clock is far ahead; signatures use wall time
    session_id = _pay_one(sandbox, client)
    sandbox.flush_webhooks()
    assert receiver.types() == [
        "payment_intent.created",
        "payment_intent.succeeded",
        "charge.succeeded",
        "checkout.session.completed",
    ]
    for delivery in receiver.deliveries:
        assert delivery.headers["Content-Type"] == "application/json; charset=utf-8"
        assert delivery.headers["User-Agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
        header = delivery.headers["Stripe-Signature"]
        assert ",v1=" in header and ",v0=" in header
        event = stripe.Webhook.construct_event(delivery.body, header, secret)
        assert event.id.startswith("evt_")
    completed = stripe.Webhook.construct_event(
        receiver.deliveries[-1].body, receiver.deliveries[-1].headers["Stripe-Signature"], secret
    )
    assert isinstance(completed.data.object, stripe.checkout.Session)
    assert completed.data.object.id == session_id
    events = client.v1.events.list(params={"delivery_success": True})
    assert all(e.pending_webhooks == 0 for e in events)


def test_webhook_endpoints_api(
    sandbox: SandboxHandle, client: stripe.StripeClient, receiver: Receiver
) -> None:
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": receiver.url, "enabled_events": ["checkout.session.completed"]}
    )
    assert endpoint.secret is not None and endpoint.secret.startswith("whsec_")
    assert "secret" not in client.v1.webhook_endpoints.retrieve(endpoint.id)
    _pay_one(sandbox, client)
    sandbox.flush_webhooks()
    assert receiver.types() == ["checkout.session.completed"]
    stripe.Webhook.construct_event(
        receiver.deliveries[0].body,
        receiver.deliveries[0].headers["Stripe-Signature"],
        endpoint.secret,
    )
    client.v1.webhook_endpoints.delete(endpoint.id)
    assert client.v1.webhook_endpoints.list().data == []


def test_retries_with_fresh_signatures(
    sandbox: SandboxHandle, client: stripe.StripeClient, receiver: Receiver
) -> None:
    secret = sandbox.register_webhook(receiver.url, enabled_events=["checkout.session.completed"])
    receiver.statuses = [500, 503]
    _pay_one(sandbox, client)
    sandbox.flush_webhooks()
    assert len(receiver.deliveries) == 1
    failed = client.v1.events.list(params={"delivery_success": False}).data
    assert [e.type for e in failed] == ["checkout.session.completed"]
    sandbox.advance(300)
    sandbox.flush_webhooks()
    assert len(receiver.deliveries) == 2
    sandbox.advance(1800)
    sandbox.flush_webhooks()
    assert len(receiver.deliveries) == 3
    bodies = {d.body for d in receiver.deliveries}
    assert len(bodies) == 1
    for delivery in receiver.deliveries:
        stripe.Webhook.construct_event(delivery.body, delivery.headers["Stripe-Signature"], secret)
    assert client.v1.events.list(params={"delivery_success": False}).data == []


def test_retries_give_up(
    sandbox: SandboxHandle, client: stripe.StripeClient, receiver: Receiver
) -> None:
    sandbox.register_webhook(receiver.url, enabled_events=["checkout.session.completed"])
    receiver.statuses = [500] * 10
    _pay_one(sandbox, client)
    for _ in range(6):
        sandbox.flush_webhooks()
        sandbox.advance(3 * 3600)
    assert len(receiver.deliveries) == 4  # the first attempt and three retries


def test_chaos_drop_keeps_events_listable(
    sandbox: SandboxHandle, client: stripe.StripeClient, receiver: Receiver
) -> None:
    sandbox.register_webhook(receiver.url)
    sandbox.chaos(drop=1.0, types=["checkout.session.completed"])
    session_id = _pay_one(sandbox, client)
    sandbox.flush_webhooks()
    assert "checkout.session.completed" not in receiver.types()
    assert "charge.succeeded" in receiver.types()
    missed = client.v1.events.list(
        params={"types": ["checkout.session.completed"], "delivery_success": False}
    )
    assert [e.data.object["id"] for e in missed] == [session_id]


def test_chaos_duplicate(
    sandbox: SandboxHandle, client: stripe.StripeClient, receiver: Receiver
) -> None:
    sandbox.register_webhook(receiver.url, enabled_events=["checkout.session.completed"])
    sandbox.chaos(duplicate=1.0)
    _pay_one(sandbox, client)
    sandbox.flush_webhooks()
    assert receiver.types() == ["checkout.session.completed"] * 2
    assert receiver.deliveries[0].body == receiver.deliveries[1].body


def test_chaos_delay_and_reorder(
    sandbox: SandboxHandle, client: stripe.StripeClient, receiver: Receiver
) -> None:
    sandbox.register_webhook(receiver.url)
    sandbox.chaos(delay=600, reorder=300, seed=7)
    for _ in range(4):
        _pay_one(sandbox, client)
    sandbox.flush_webhooks()
    assert receiver.deliveries == []
    sandbox.advance(599)
    sandbox.flush_webhooks()
    assert receiver.deliveries == []
    sandbox.advance(301)
    sandbox.flush_webhooks()
    emitted = [e.id for e in reversed(client.v1.events.list(params={"limit": 100}).data)]
    received = [d.event["id"] for d in receiver.deliveries]
    assert sorted(received) == sorted(emitted)
    assert received != emitted


def test_events_filters_and_retention(sandbox: SandboxHandle, client: stripe.StripeClient) -> None:
    _pay_one(sandbox, client)
    wanted = ["charge.succeeded", "checkout.session.completed"]
    listed = client.v1.events.list(params={"types": wanted})
    assert sorted(e.type for e in listed) == sorted(wanted)
    prefixed = client.v1.events.list(params={"type": "payment_intent.*"})
    assert {e.type for e in prefixed} == {"payment_intent.created", "payment_intent.succeeded"}
    first = listed.data[0]
    assert client.v1.events.retrieve(first.id).type == first.type
    sandbox.advance(31 * 86_400)
    assert client.v1.events.list(params={"types": wanted}).data == []
    try:
        client.v1.events.retrieve(first.id)
    except stripe.InvalidRequestError as error:
        assert error.http_status == 404
    else:
        raise AssertionError("a 31-day-old event must be gone")


def test_webhook_url_flag(receiver: Receiver) -> None:
    with running_sandbox(start=START, webhook_url=receiver.url, webhook_secret="whsec_x") as sb:
        client = sb.client()
        _pay_one(sb, client)
        sb.flush_webhooks()
    assert receiver.deliveries
    delivery = receiver.deliveries[0]
    stripe.Webhook.construct_event(delivery.body, delivery.headers["Stripe-Signature"], "whsec_x")


def test_timeouts_are_retried(receiver: Receiver) -> None:
    with running_sandbox(start=START, webhook_timeout=0.3) as sandbox:
        sandbox.register_webhook(receiver.url, enabled_events=["checkout.session.completed"])
        receiver.delay_first = 1.0
        _pay_one(sandbox, sandbox.client())
        sandbox.flush_webhooks()
        log = sandbox.webhook_log()["recent"]
        assert [entry["result"] for entry in log] == ["failed"]
        sandbox.advance(300)
        sandbox.flush_webhooks()
        results = [entry["result"] for entry in sandbox.webhook_log()["recent"]]
        assert results == ["failed", "delivered"]
    assert len(receiver.deliveries) == 1
