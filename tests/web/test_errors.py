"""Errors say what they are: a bug is 500 with a correlation id in the body and the log,
transient trouble is 503; every 5xx is reported as ``payments.http.server_errors``."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from paywindow.errors import GatewayUnavailable, StoreUnavailable
from paywindow.observability import RecordingMetrics
from paywindow.store.tables import event_log, server_errors
from paywindow.web.app import create_app
from tests import factories as f
from tests.web.conftest import Recorder, recorder_config, serve_in_thread

CORRELATION_ID = re.compile(r"^err_[0-9a-f]{16}$")


class BrokenClock:
    """A clock with a bug: asking it the time raises."""

    def now(self) -> datetime:
        raise ZeroDivisionError("the clock is broken")


def _bug() -> None:
    raise ZeroDivisionError("a bug in a route")


def _store_down() -> None:
    raise StoreUnavailable("the database stayed locked for 2.0 s")


def _driver_down() -> None:
    raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def _stripe_down() -> None:
    raise GatewayUnavailable("Stripe answered 503")


@pytest.fixture
def broken(engine: Engine) -> Iterator[Recorder]:
    """A recorder whose clock raises, with routes that fail in each way."""
    config = recorder_config(engine, clock=BrokenClock())
    app = create_app(config)
    assert isinstance(app.inner, FastAPI)
    for path, route in [
        ("/test/bug", _bug),
        ("/test/store-down", _store_down),
        ("/test/driver-down", _driver_down),
        ("/test/stripe-down", _stripe_down),
    ]:
        app.inner.add_api_route(path, route)
    for url in serve_in_thread(app):
        yield Recorder(url=url, secrets=config.secrets, config=config)


def _server_errors(recorded: RecordingMetrics) -> list[dict[str, str]]:
    return [s.tags for s in recorded.samples if s.name == "payments.http.server_errors"]


def _logged(caplog: pytest.LogCaptureFixture, correlation_id: str) -> logging.LogRecord:
    found = [r for r in caplog.records if getattr(r, "correlation_id", None) == correlation_id]
    assert len(found) == 1, [r.getMessage() for r in caplog.records]
    return found[0]


def test_a_bug_while_recording_is_500_with_a_correlation_id(
    broken: Recorder,
    engine: Engine,
    recorded: RecordingMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = f.body_of(f.event("checkout.session.completed", f.session("ord_e")))
    response = broken.deliver(body)
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert CORRELATION_ID.match(error["correlation_id"])
    record = _logged(caplog, error["correlation_id"])
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert record.exc_info[0] is ZeroDivisionError
    assert _server_errors(recorded) == [{"status": "500", "route": "/webhooks/stripe"}]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(event_log)).scalar_one() == 0


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_bug_in_a_route_is_500_and_logged_once(
    broken: Recorder, recorded: RecordingMetrics, caplog: pytest.LogCaptureFixture
) -> None:
    server_log, kept = logging.getLogger("uvicorn.error"), _Kept()
    server_log.addHandler(kept)
    try:
        response = httpx.get(broken.url + "/test/bug")
    finally:
        server_log.removeHandler(kept)
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert CORRELATION_ID.match(error["correlation_id"])
    assert _logged(caplog, error["correlation_id"]).exc_info is not None
    assert _server_errors(recorded) == [{"status": "500", "route": "/test/bug"}]
    # logged once, with the id: the server does not log a second, anonymous traceback
    assert [r.getMessage() for r in kept.records] == []


@pytest.mark.parametrize(
    ("path", "code"),
    [
        pytest.param("/test/store-down", "unavailable", id="store-unavailable"),
        pytest.param("/test/driver-down", "unavailable", id="driver-operational-error"),
        pytest.param("/test/stripe-down", "stripe_unavailable", id="gateway-unavailable"),
    ],
)
def test_transient_trouble_is_503(
    broken: Recorder,
    recorded: RecordingMetrics,
    caplog: pytest.LogCaptureFixture,
    path: str,
    code: str,
) -> None:
    response = httpx.get(broken.url + path)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == code
    assert CORRELATION_ID.match(error["correlation_id"])
    assert _logged(caplog, error["correlation_id"]).levelno == logging.WARNING
    assert _server_errors(recorded) == [{"status": "503", "route": path}]


def test_client_errors_are_not_server_errors(
    recorder: Recorder, recorded: RecordingMetrics
) -> None:
    assert httpx.get(recorder.url + "/nowhere").status_code == 404
    assert recorder.post(b"{}").status_code == 400
    assert recorder.deliver(b"{}").status_code == 400
    assert _server_errors(recorded) == []


def test_a_locked_store_on_the_webhook_is_503_with_a_correlation_id(
    engine: Engine, recorded: RecordingMetrics
) -> None:
    from tests.web.test_poison import _hold_the_log

    config = recorder_config(engine)
    for url in serve_in_thread(create_app(config)):
        recorder = Recorder(url=url, secrets=config.secrets, config=config)
        holder = _hold_the_log(engine, 3.0)
        try:
            response = recorder.deliver(f.body_of(f.event("charge.succeeded", f.charge("o"))))
        finally:
            holder.join()
    assert response.status_code == 503
    assert CORRELATION_ID.match(response.json()["error"]["correlation_id"])
    assert _server_errors(recorded) == [{"status": "503", "route": "/webhooks/stripe"}]


def _kept(engine: Engine, expected: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 5
    while True:
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(server_errors)).mappings()]
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_every_5xx_is_kept_for_the_alert(broken: Recorder, engine: Engine) -> None:
    bug = httpx.get(broken.url + "/test/bug").json()["error"]["correlation_id"]
    down = httpx.get(broken.url + "/test/store-down").json()["error"]["correlation_id"]
    rows = sorted(_kept(engine, 2), key=lambda row: str(row["status"]))
    assert [(r["correlation_id"], r["status"], r["route"], r["error"]) for r in rows] == [
        (bug, 500, "/test/bug", "ZeroDivisionError"),
        (down, 503, "/test/store-down", "StoreUnavailable"),
    ]
    assert broken.config.counters["http.server_errors.500"] == 1
