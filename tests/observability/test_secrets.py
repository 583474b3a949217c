"""No secret or card data in any log line, through a realistic morning at DEBUG."""

from __future__ import annotations

import io
import time

import httpx
import stripe
from sqlalchemy import Engine

from paywindow.payments.expiry import close_overdue
from tests import factories as f
from tests.world import TOKEN, build_world

CARD = "4242424242424242"


def test_logs_hold_no_secrets_or_card_data(engine: Engine, json_logs: io.StringIO) -> None:
    with build_world(engine) as world:
        paid = world.create("ord_secret_paid").json()
        world.sandbox.pay(paid["session_id"], "success")
        world.create("ord_secret_declined")
        declined = world.api("GET", "/v1/orders/ord_secret_declined").json()
        world.sandbox.pay(declined["session_id"], "decline", decline_code="insufficient_funds")
        world.settle()
        world.api("POST", "/v1/orders/ord_secret_paid/checkout")  # 409: paid
        httpx.get(world.url + "/v1/orders/ord_secret_paid", headers={"Authorization": "Bearer x"})
        body = f.body_of(f.event("checkout.session.completed", f.session("ord_x")))
        forged = stripe.WebhookSignature.generate_signature_header(
            body.decode(), "whsec_forged", timestamp=int(time.time())
        )
        httpx.post(
            world.url + "/webhooks/stripe", content=body, headers={"Stripe-Signature": forged}
        )
        world.advance(24 * 3600 + 1)
        close_overdue(world.engine, world.clock.now())
        api_key = world.sandbox.api_key
    logs = json_logs.getvalue()
    assert logs.count("\n") > 5, "the flow logged (almost) nothing: the test would prove little"
    for needle in (api_key, TOKEN, "whsec_", "sk_test_", "Bearer ", CARD, "client_secret", "v1="):
        assert needle not in logs, needle
