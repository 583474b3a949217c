"""Small edges of the served app: /healthz tells nothing about the database to the unauthenticated,
405 answers name the allowed methods, and `paywindow serve` trusts no proxy headers by default."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from paywindow.sandbox import free_port
from paywindow.store import make_engine, upgrade
from paywindow.store.tables import event_log
from paywindow.web.app import create_app
from tests import factories as f
from tests.web.conftest import Recorder, recorder_config, serve_in_thread, sign

UNREACHABLE = "postgresql+psycopg://paywindow:s3cret-pw@127.0.0.1:1/paywindow"


@pytest.fixture
def cut_off() -> Iterator[str]:
    """A recorder whose database cannot be reached."""
    engine = make_engine(UNREACHABLE, busy_timeout=1)
    yield from serve_in_thread(create_app(recorder_config(engine)))
    engine.dispose()


def test_healthz_says_unavailable_and_nothing_more(
    cut_off: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="paywindow.web.app"):
        response = httpx.get(cut_off + "/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    logged = [r for r in caplog.records if r.name == "paywindow.web.app"]
    assert logged and "OperationalError" in logged[0].getMessage()


def test_healthz_ok(recorder: Recorder) -> None:
    response = httpx.get(recorder.url + "/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        pytest.param("GET", "/webhooks/stripe", {"POST"}, id="webhook"),
        pytest.param("PUT", "/webhooks/stripe", {"POST"}, id="webhook-put"),
        pytest.param("DELETE", "/healthz", {"GET", "HEAD"}, id="healthz"),
    ],
)
def test_405_names_the_allowed_methods(
    recorder: Recorder, method: str, path: str, allowed: set[str]
) -> None:
    response = httpx.request(method, recorder.url + path)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


def _serve(tmp_path: Path, **env: str) -> Iterator[tuple[str, Engine]]:
    """`paywindow serve` in a child process on a fresh SQLite database."""
    url = f"sqlite:///{tmp_path}/serve.db"
    engine = make_engine(url)
    upgrade(engine)
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("PAYWINDOW_")}
    child_env.pop("FORWARDED_ALLOW_IPS", None)
    child_env.update(
        PAYWINDOW_DATABASE_URL=url,
        PAYWINDOW_STRIPE_WEBHOOK_SECRETS="whsec_serve_test",
        PAYWINDOW_METRICS_ENABLED="false",
        **env,
    )
    command = shutil.which("paywindow", path=str(Path(sys.executable).parent))
    assert command is not None
    log = tmp_path / "serve.log"
    with log.open("wb") as err:  # the child keeps its own copy of the descriptor
        child = subprocess.Popen(
            [command, "serve", "--port", str(port), "--no-processor"],
            env=child_env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start: {log.read_text()}")
            time.sleep(0.1)
        yield base, engine
    finally:
        child.terminate()
        child.wait(10)
        engine.dispose()


@pytest.mark.parametrize(
    ("trusted", "recorded_as"),
    [
        pytest.param(None, "127.0.0.1", id="by-default-no-proxy-is-trusted"),
        pytest.param("127.0.0.1", "203.0.113.9", id="a-named-proxy-is-trusted"),
    ],
)
def test_serve_trusts_x_forwarded_for_only_from_named_proxies(
    tmp_path: Path, trusted: str | None, recorded_as: str
) -> None:
    env = {"PAYWINDOW_FORWARDED_ALLOW_IPS": trusted} if trusted else {}
    for base, engine in _serve(tmp_path, **env):
        body = f.body_of(f.event("charge.succeeded", f.charge("ord_fwd")))
        headers = {**sign(body, "whsec_serve_test"), "X-Forwarded-For": "203.0.113.9"}
        response = httpx.post(base + "/webhooks/stripe", content=body, headers=headers)
        assert response.status_code == 200, response.text
        with engine.connect() as conn:
            assert conn.execute(select(event_log.c.remote_addr)).scalar_one() == recorded_as
