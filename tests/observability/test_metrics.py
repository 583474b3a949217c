"""payments.* metrics: what the recorder and the processor report, and the DogStatsD adapter."""

from __future__ import annotations

import logging
import socket
import time

import pytest
import stripe
from sqlalchemy import Engine

from paywindow.inbox.processor import process_due
from paywindow.observability import DogStatsdMetrics, RecordingMetrics
from tests import factories as f
from tests.factories import NOW
from tests.web.conftest import Recorder


def _signed(body: bytes, secret: str) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=int(time.time())
    )
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def test_the_recorder_counts_each_outcome_over_http(
    recorder: Recorder, recorded: RecordingMetrics
) -> None:
    body = f.body_of(f.event("checkout.session.completed", f.session("ord_m")))
    recorder.post(body, _signed(body, recorder.secrets[0]))
    recorder.post(body, _signed(body, recorder.secrets[0]))
    recorder.post(body, {"Stripe-Signature": "t=1,v1=00"})
    recorder.post(body)
    assert recorded.total("payments.webhooks.received") == 4
    assert recorded.total("payments.webhooks.recorded", type="checkout.session.completed") == 1
    assert recorded.total("payments.webhooks.duplicate") == 1
    assert recorded.total("payments.webhooks.rejected", reason="bad_signature") == 1
    assert recorded.total("payments.webhooks.rejected", reason="missing_signature") == 1
    assert recorder.config.counters["webhooks.received"] == 4  # the /healthz counters stay


def test_the_processor_reports_lag_and_outcomes(engine: Engine, recorded: RecordingMetrics) -> None:
    order_id = f.open_order(engine)
    f.record(
        engine,
        f.event("checkout.session.completed", f.session(order_id)),
        f.event("customer.created", {"id": "cus_1", "object": "customer"}),
    )
    process_due(engine, NOW.replace(second=30))
    assert recorded.values("payments.events.processing_lag_seconds") == [30.0]
    assert recorded.total("payments.events.processed", status="applied") == 1
    assert recorded.total("payments.events.processed", status="ignored") == 1


def test_dogstatsd_sends_namespaced_datagrams_with_tags() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as agent:
        agent.bind(("127.0.0.1", 0))
        agent.settimeout(5)
        sender = DogStatsdMetrics("127.0.0.1", agent.getsockname()[1])
        sender.increment("webhooks.rejected", tags={"reason": "bad_signature"})
        sender.distribution("expiry.lateness_seconds", 0.25)
        lines: set[bytes] = set()
        while len(lines) < 2:  # aggregated and flushed by the client within a second
            lines |= {line.strip() for line in agent.recv(4096).splitlines() if line.strip()}
        sender.close()
    assert lines == {
        b"payments.webhooks.rejected:1|c|#reason:bad_signature",
        b"payments.expiry.lateness_seconds:0.25|d",
    }


def test_dogstatsd_without_an_agent_drops_metrics_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed below: nobody listens there
    sender = DogStatsdMetrics("127.0.0.1", port)
    started = time.perf_counter()
    for _ in range(50):
        sender.increment("webhooks.received")
        sender.distribution("expiry.lateness_seconds", 0.25)
    assert time.perf_counter() - started < 1.0  # a metric call never waits for the network
    time.sleep(0.7)  # the background flush has sent into the void: the port answers "refused"
    sender.increment("webhooks.recorded")
    sender.close()  # flushes again, into the refusal
    refused = [r for r in caplog.records if "refused" in r.getMessage().lower()]
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert noisy == [], [r.getMessage() for r in noisy]
    assert refused == []  # not even at debug level: an absent agent is not news
