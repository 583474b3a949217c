"""The order API as the marketplace app calls it, against the sandbox over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from tests.world import World, order_body


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_create_opens_the_window_and_a_destination_charge_session(world: World) -> None:
    response = world.create("ord_123")
    assert response.status_code == 201, response.text
    view = response.json()
    assert view["state"] == "awaiting_payment"
    assert view["seconds_remaining"] == 24 * 3600
    assert _ts(view["deadline"]) - _ts(view["server_time"]) == timedelta(hours=24)
    assert view["checkout_url"].startswith("http")
    assert view["receipt_url"] is None
    session = world.stripe.v1.checkout.sessions.retrieve(view["session_id"])
    assert session.metadata.to_dict() == {"paywindow_order_id": "ord_123", "paywindow_attempt": "1"}
    assert session.client_reference_id == "ord_123"
    assert session.amount_total == 2500
    # Stripe refuses a full 24 h: the session ends 5 minutes (the margin) before the deadline
    assert session.expires_at == int(
        (world.clock.now() + timedelta(hours=23, minutes=55)).timestamp()
    )
    world.sandbox.pay(session.id, "success")
    world.settle()
    intent = world.stripe.v1.payment_intents.retrieve(
        world.stripe.v1.checkout.sessions.retrieve(session.id).payment_intent
    )
    assert intent.metadata["paywindow_order_id"] == "ord_123"
    assert intent.application_fee_amount == 300
    assert intent.transfer_data.destination == world.seller
    paid = world.api("GET", "/v1/orders/ord_123").json()
    assert paid["state"] == "paid"
    assert paid["checkout_url"] is None


def test_same_body_returns_the_same_order_and_another_body_conflicts(world: World) -> None:
    first = world.create("ord_dup").json()
    again = world.create("ord_dup")
    assert again.status_code == 200
    assert again.json()["session_id"] == first["session_id"]
    clash = world.create("ord_dup", application_fee_amount=400)
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "conflict"
    sessions = world.stripe.v1.checkout.sessions.list(params={"limit": 100})
    assert sum(1 for s in sessions.data if s.client_reference_id == "ord_dup") == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"Authorization": ""}, 401, id="missing"),
        pytest.param({"Authorization": "Bearer wrong"}, 401, id="wrong"),
        pytest.param({"Authorization": "Basic abc"}, 401, id="wrong-scheme"),
    ],
)
def test_the_api_needs_the_bearer_token(world: World, headers: dict[str, str], status: int) -> None:
    response = world.api("GET", "/v1/orders/ord_x", headers=headers)
    assert response.status_code == status
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        pytest.param({"currency": "xyz"}, 422, "currency", id="unknown-currency"),
        pytest.param(
            {"line_items": [{"name": "x", "unit_amount": 0, "quantity": 1}]},
            422,
            "line_items[0].unit_amount",
            id="zero-amount",
        ),
        pytest.param(
            {"line_items": [{"name": "x", "unit_amount": 25.5, "quantity": 1}]},
            422,
            "line_items[0].unit_amount",
            id="float-amount",
        ),
        pytest.param(
            {"line_items": [{"name": "x", "unit_amount": 100, "quantity": -1}]},
            422,
            "line_items[0].quantity",
            id="negative-quantity",
        ),
        pytest.param({"line_items": []}, 422, "line_items", id="no-items"),
        pytest.param({"amount_total": 9999}, 422, "amount_total", id="mismatched-total"),
        pytest.param(
            {"application_fee_amount": 2501}, 422, "application_fee_amount", id="fee-too-big"
        ),
        pytest.param(
            {"application_fee_amount": -1}, 422, "application_fee_amount", id="negative-fee"
        ),
        pytest.param({"seller_account": "bob"}, 422, "seller_account", id="malformed-seller"),
        pytest.param({"order_id": "bad id!"}, 422, "order_id", id="bad-order-id"),
        pytest.param({"buyer": {"id": "u", "email": "nope"}}, 422, "buyer.email", id="bad-email"),
        pytest.param({"surprise": 1}, 422, "surprise", id="unknown-field"),
    ],
)
def test_invalid_orders_name_the_field(
    world: World, overrides: dict[str, object], status: int, field: str
) -> None:
    response = world.create("ord_bad", **overrides)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
    assert world.api("GET", "/v1/orders/ord_bad").status_code == 404


def test_unknown_seller_is_refused_with_stripes_message_and_nothing_kept(world: World) -> None:
    response = world.create("ord_seller", seller_account="acct_doesnotexist")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "seller_account"
    assert "acct_doesnotexist" in error["message"]
    assert world.api("GET", "/v1/orders/ord_seller").status_code == 404
    fixed = world.create("ord_seller")  # fixed and sent again: accepted, no conflict
    assert fixed.status_code == 201


def test_malformed_and_oversized_bodies(world: World) -> None:
    broken = world.api(
        "POST", "/v1/orders", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "malformed_json"
    huge = order_body("ord_huge", world.seller, seller_name="x" * 70_000)
    too_big = world.api("POST", "/v1/orders", json=huge)
    assert too_big.status_code == 413


def test_stripe_outage_gives_503_then_the_same_request_completes(world: World) -> None:
    world.sandbox.faults(fail_next=20, fail_status=503)  # outlasts the SDK's and our retries
    down = world.create("ord_outage")
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "stripe_unavailable"
    world.sandbox.faults()
    up = world.create("ord_outage")
    assert up.status_code == 200  # the order was kept; its checkout is finished now
    assert up.json()["checkout_url"]


def test_rate_limits_are_retried_with_the_same_idempotency_key(world: World) -> None:
    world.sandbox.faults(fail_next=1, fail_status=429)
    response = world.create("ord_429")
    assert response.status_code == 201
    sessions = world.stripe.v1.checkout.sessions.list(params={"limit": 100})
    assert sum(1 for s in sessions.data if s.client_reference_id == "ord_429") == 1


def test_reopen_returns_the_open_session_and_never_two(world: World) -> None:
    first = world.create("ord_re").json()
    again = world.api("POST", "/v1/orders/ord_re/checkout").json()
    assert again["session_id"] == first["session_id"]
    world.advance(timedelta(hours=23, minutes=56))  # Stripe ended the session; window still open
    world.settle()
    reopened = world.api("POST", "/v1/orders/ord_re/checkout").json()
    assert reopened["session_id"] != first["session_id"]
    assert [a["status"] for a in reopened["attempts"]] == ["expired", "open"]
    session = world.stripe.v1.checkout.sessions.retrieve(reopened["session_id"])
    # under 30 minutes left: Stripe's minimum wins and the expiry flow ends it at the deadline
    assert session.expires_at >= int((world.clock.now() + timedelta(minutes=30)).timestamp())
    open_ones = world.stripe.v1.checkout.sessions.list(params={"status": "open", "limit": 100})
    assert sum(1 for s in open_ones.data if s.client_reference_id == "ord_re") == 1


def test_reads_report_expiry_at_once_past_the_deadline(world: World) -> None:
    world.create("ord_late_read")
    world.advance(timedelta(hours=24) - timedelta(seconds=1))
    before = world.api("GET", "/v1/orders/ord_late_read").json()
    assert (before["state"], before["seconds_remaining"]) == ("awaiting_payment", 1)
    world.advance(1)
    after = world.api("GET", "/v1/orders/ord_late_read").json()
    assert (after["state"], after["seconds_remaining"], after["checkout_url"]) == (
        "expired",
        0,
        None,
    )
    reopen = world.api("POST", "/v1/orders/ord_late_read/checkout")
    assert reopen.status_code == 409


def test_unknown_order(world: World) -> None:
    response = world.api("GET", "/v1/orders/ord_nobody")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_no_token_configured_refuses_everything(world: World) -> None:
    world.service.token = None
    response = httpx.get(world.url + "/v1/orders/x", headers={"Authorization": "Bearer x"})
    assert response.status_code == 401


def test_manual_retry_is_mounted_behind_the_support_token(world: World) -> None:
    assert httpx.post(world.url + "/v1/orders/ord_r/retry").status_code == 401
    assert world.api("POST", "/v1/orders/ord_r/retry").status_code == 403  # the app token
    missing = world.support("POST", "/v1/orders/ord_r/retry")
    assert missing.status_code == 404
    world.create("ord_r")
    nothing_to_retry = world.support("POST", "/v1/orders/ord_r/retry")
    assert nothing_to_retry.status_code == 409
