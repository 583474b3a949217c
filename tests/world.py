"""One helper that builds a whole world: the Stripe sandbox on a frozen clock, a connected
seller, the operational store, and the serve app (recorder + order API) on a loopback port,
with paywindow's clock moved together with the sandbox's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from paywindow.clock import ManualClock
from paywindow.inbox.backstop import record_session
from paywindow.inbox.processor import process_due
from paywindow.payments.checkout import CheckoutPolicy
from paywindow.sandbox import SandboxHandle, running_sandbox
from paywindow.stripe_ids import new_id
from paywindow.web.app import RecorderConfig, create_app
from paywindow.web.orders import OrdersService
from tests.factories import NOW
from tests.web.conftest import serve_in_thread

TOKEN = "test-token-" + new_id("t", 16)
SUPPORT_TOKEN = "test-support-" + new_id("t", 16)


@dataclass
class World:
    sandbox: SandboxHandle
    engine: Engine
    clock: ManualClock
    url: str
    seller: str
    service: OrdersService

    @property
    def stripe(self) -> Any:
        return self.sandbox.client()

    def api(self, method: str, path: str, *, token: str = TOKEN, **kwargs: Any) -> httpx.Response:
        """Call the order API as the marketplace app (or with another ``token``)."""
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def support(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the order API as support (the support token)."""
        return self.api(method, path, token=SUPPORT_TOKEN, **kwargs)

    def create(self, order_id: str, /, **overrides: Any) -> httpx.Response:
        return self.api("POST", "/v1/orders", json=order_body(order_id, self.seller, **overrides))

    def advance(self, delta: timedelta | float) -> datetime:
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        self.sandbox.advance(step)
        return self.clock.advance(step)

    def settle(self) -> None:
        """Deliver every webhook and apply every recorded event."""
        self.sandbox.flush_webhooks()
        while process_due(self.engine, self.clock.now()).total:
            pass


def order_body(order_id: str, seller: str, /, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": order_id,
        "buyer": {"id": "u_9", "email": "b@example.com", "customer": None},
        "seller_account": seller,
        "currency": "usd",
        "application_fee_amount": 300,
        "line_items": [{"name": "Signed vinyl", "unit_amount": 2500, "quantity": 1}],
        "locale": "en-US",
    }
    body.update(overrides)
    return body


def policy(window: timedelta = timedelta(hours=24)) -> CheckoutPolicy:
    return CheckoutPolicy(
        window=window,
        margin=timedelta(minutes=5),
        success_url="https://m.example/done?s={CHECKOUT_SESSION_ID}",
        cancel_url="https://m.example/cancel",
        record_session=record_session,
    )


@contextmanager
def build_world(
    engine: Engine, *, window: timedelta = timedelta(hours=24), start: datetime = NOW
) -> Iterator[World]:
    clock = ManualClock(start)
    with running_sandbox(start=start, frozen=True) as sandbox:
        client = sandbox.client(max_network_retries=2)
        seller = client.v1.accounts.create(params={"type": "express"}).id
        secret = "whsec_" + new_id("w", 24)
        service = OrdersService(
            engine=engine,
            client=client,
            policy=policy(window),
            clock=clock,
            token=TOKEN,
            support_token=SUPPORT_TOKEN,
        )
        config = RecorderConfig(
            engine=engine, clock=clock, secrets=[secret], run_processor=False, orders=service
        )
        for url in serve_in_thread(create_app(config)):
            sandbox.register_webhook(f"{url}/webhooks/stripe", secret)
            yield World(sandbox, engine, clock, url, seller, service)
