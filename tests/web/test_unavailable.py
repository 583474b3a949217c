"""A database that is locked or down: the delivery gets 503, Stripe retries, nothing is lost."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import stripe
from sqlalchemy import Engine, text

from paywindow.clock import SystemClock
from paywindow.store import make_engine
from paywindow.web.app import RecorderConfig, create_app
from tests import factories as f
from tests.web.conftest import Recorder, serve_in_thread


@pytest.fixture
def impatient_recorder(db_url: str) -> Iterator[Recorder]:
    engine = make_engine(db_url, busy_timeout=0.3)
    secrets = ["whsec_unavailable_test"]
    config = RecorderConfig(
        engine=engine, clock=SystemClock(), secrets=secrets, run_processor=False
    )
    for url in serve_in_thread(create_app(config)):
        yield Recorder(url=url, secrets=secrets, config=config)
    engine.dispose()


def _sign(body: bytes, secret: str) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, int(time.time())
    )
    return {"Stripe-Signature": header}


def test_locked_database_answers_503_then_the_redelivery_is_kept(
    impatient_recorder: Recorder, engine: Engine
) -> None:
    body = f.body_of(f.event("payment_intent.succeeded", f.payment_intent("ord_u")))
    secret = impatient_recorder.secrets[0]
    with engine.connect() as blocker:
        if engine.dialect.name == "postgresql":
            blocker.execute(text("LOCK TABLE event_log IN ACCESS EXCLUSIVE MODE"))
        else:
            blocker.execute(text("SELECT 1"))  # the engine already began IMMEDIATE: lock held
        response = impatient_recorder.post(body, _sign(body, secret))
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "unavailable"
        blocker.rollback()
    again = impatient_recorder.post(body, _sign(body, secret))
    assert again.status_code == 200
    assert again.json()["status"] == "recorded"
    assert impatient_recorder.config.counters["webhooks.unavailable"] == 1
