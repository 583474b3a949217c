"""Fixtures for sandbox tests: a running sandbox, its SDK client and a webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from paywindow.sandbox import SandboxHandle, running_sandbox

START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@dataclass
class Delivery:
    """One webhook request as the receiver saw it."""

    body: bytes
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class Receiver:
    """A loopback HTTP endpoint that records deliveries and answers ``statuses`` in turn."""

    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay_first: float = 0.0

    def types(self) -> list[str]:
        return [d.event["type"] for d in self.deliveries]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                pause, state.delay_first = state.delay_first, 0.0
            if pause:
                time.sleep(pause)
                return  # the sender has given up; answer nothing
            with lock:
                state.deliveries.append(Delivery(body, dict(self.headers.items())))
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(start=START) as handle:
        yield handle


@pytest.fixture
def client(sandbox: SandboxHandle) -> stripe.StripeClient:
    made: stripe.StripeClient = sandbox.client()
    return made


@pytest.fixture
def seller(client: stripe.StripeClient) -> str:
    account = client.v1.accounts.create(params={"type": "express", "email": "seller@example.com"})
    return account.id


def session_params(**overrides: Any) -> Any:
    """Checkout Session params as paywindow sends them, with overrides."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1000,
                    "product_data": {"name": "Vintage lamp"},
                },
                "quantity": 2,
            }
        ],
        "metadata": {"order_id": "ord_1"},
        "client_reference_id": "ord_1",
        "customer_email": "buyer@example.com",
        "success_url": "https://paywindow.test/ok?session={CHECKOUT_SESSION_ID}",
    }
    params.update(overrides)
    return params


def destination_params(seller: str, fee: int = 500, **overrides: Any) -> Any:
    """Session params for a destination charge with an application fee."""
    pi_data = {
        "application_fee_amount": fee,
        "transfer_data": {"destination": seller},
        "metadata": {"order_id": "ord_1", "attempt": "1"},
    }
    return session_params(payment_intent_data=pi_data, **overrides)
