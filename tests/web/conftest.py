"""A real recorder on a loopback port, driven over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import stripe
import uvicorn
from sqlalchemy import Engine

from paywindow.clock import SystemClock
from paywindow.observability import RecordingMetrics, configure_metrics
from paywindow.sandbox import free_port
from paywindow.stripe_ids import new_id
from paywindow.web.app import RecorderConfig, create_app


def sign(body: bytes, secret: str, *, at: int | None = None) -> dict[str, str]:
    """Headers of a delivery Stripe signed with ``secret`` at ``at`` (default: now)."""
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=at or int(time.time())
    )
    return {"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"}


@dataclass
class Recorder:
    url: str
    secrets: list[str]
    config: RecorderConfig

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(f"{self.url}/webhooks/stripe", content=body, headers=headers or {})

    def deliver(self, body: bytes, *, at: int | None = None) -> httpx.Response:
        """POST ``body`` signed with the first secret, as Stripe would."""
        return self.post(body, sign(body, self.secrets[0], at=at))


def serve_in_thread(app: object) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="error",
        timeout_keep_alive=75,  # longer than clients keep idle connections (no reset races)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("recorder did not start")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def recorder_config(engine: Engine, **overrides: object) -> RecorderConfig:
    """The recorder's config for tests: two secrets, no processor thread."""
    secrets = [f"whsec_{new_id('t', 32)}", f"whsec_{new_id('t', 32)}"]
    values: dict[str, object] = {
        "engine": engine,
        "clock": SystemClock(),
        "secrets": secrets,
        "max_body": 512 * 1024,
        "run_processor": False,
    }
    values.update(overrides)
    return RecorderConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def recorder(engine: Engine) -> Iterator[Recorder]:
    config = recorder_config(engine)
    for url in serve_in_thread(create_app(config)):
        yield Recorder(url=url, secrets=config.secrets, config=config)


@pytest.fixture
def recorded() -> Iterator[RecordingMetrics]:
    """Every metric reported while the test runs."""
    double = RecordingMetrics()
    previous = configure_metrics(double)
    yield double
    configure_metrics(previous)
