"""The recorder over real HTTP with real Stripe signatures: what is kept and what is refused."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import stripe
from sqlalchemy import Engine, func, select

from paywindow.store.tables import event_log
from tests import factories as f
from tests.web.conftest import Recorder


def _sign(body: bytes, secret: str, *, at: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=at or int(time.time())
    )
    return {"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"}


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(event_log)).scalar_one())


def _body(**extra: Any) -> bytes:
    return f.body_of(f.event("checkout.session.completed", f.session("ord_r"), **extra))


def test_valid_delivery_is_recorded_byte_for_byte(recorder: Recorder, engine: Engine) -> None:
    body = json.dumps(json.loads(_body()), indent=2).encode()  # Stripe pretty-prints
    response = recorder.post(body, _sign(body, recorder.secrets[0]))
    assert response.status_code == 200
    assert response.json()["status"] == "recorded"
    with engine.connect() as conn:
        row = conn.execute(select(event_log)).mappings().one()
    assert row["body"] == body
    assert row["type"] == "checkout.session.completed"
    assert row["status"] == "pending"
    assert row["remote_addr"] == "127.0.0.1"
    assert json.loads(row["headers"])["stripe-signature"].startswith("t=")


def test_rotated_secret_is_accepted(recorder: Recorder, engine: Engine) -> None:
    body = _body()
    assert recorder.post(body, _sign(body, recorder.secrets[1])).status_code == 200
    assert _count(engine) == 1


def test_redelivery_answers_200_and_adds_no_row(recorder: Recorder, engine: Engine) -> None:
    body = _body()
    first = recorder.post(body, _sign(body, recorder.secrets[0]))
    again = recorder.post(body, _sign(body, recorder.secrets[0], at=int(time.time()) + 1))
    assert (first.json()["status"], again.json()["status"]) == ("recorded", "duplicate")
    assert again.status_code == 200
    assert _count(engine) == 1
    assert recorder.config.counters["webhooks.duplicate"] == 1


def test_eight_concurrent_deliveries_of_one_event_make_one_row(
    recorder: Recorder, engine: Engine
) -> None:
    body = _body()
    with ThreadPoolExecutor(8) as pool:
        responses = list(
            pool.map(lambda i: recorder.post(body, _sign(body, recorder.secrets[i % 2])), range(8))
        )
    assert [r.status_code for r in responses] == [200] * 8
    assert sorted(r.json()["status"] for r in responses).count("recorded") == 1
    assert _count(engine) == 1


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        pytest.param("no_header", 400, "missing_signature", id="missing-header"),
        pytest.param("wrong_secret", 400, "bad_signature", id="forged"),
        pytest.param("tampered", 400, "bad_signature", id="tampered-body"),
        pytest.param("stale", 400, "stale_signature", id="stale-timestamp"),
        pytest.param("only_v0", 400, "bad_signature_header", id="only-v0"),
        pytest.param("garbage_header", 400, "bad_signature_header", id="garbage-header"),
        pytest.param("not_json", 400, "malformed_json", id="not-json"),
        pytest.param("no_id", 400, "not_an_event", id="no-id"),
        pytest.param("no_type", 400, "not_an_event", id="no-type"),
        pytest.param("array", 400, "not_an_event", id="json-array"),
        pytest.param("not_utf8", 400, "not_utf8", id="not-utf8"),
        pytest.param("oversized", 413, "too_large", id="oversized"),
    ],
)
def test_bad_deliveries_are_refused_and_not_recorded(
    recorder: Recorder, engine: Engine, case: str, status: int, code: str
) -> None:
    secret = recorder.secrets[0]
    body = _body()
    headers = _sign(body, secret)
    if case == "no_header":
        headers = {}
    elif case == "wrong_secret":
        headers = _sign(body, "whsec_not_the_right_one")
    elif case == "tampered":
        body = body.replace(b'"amount_total":2500', b'"amount_total":1')
    elif case == "stale":
        headers = _sign(body, secret, at=int(time.time()) - 301)
    elif case == "only_v0":
        headers = {"Stripe-Signature": f"t={int(time.time())},v0=abc"}
    elif case == "garbage_header":
        headers = {"Stripe-Signature": "hello"}
    elif case in ("not_json", "no_id", "no_type", "array", "not_utf8", "oversized"):
        body = {
            "not_json": b"{not json",
            "no_id": json.dumps({"type": "x", "created": 1, "data": {}}).encode(),
            "no_type": json.dumps({"id": "evt_1", "created": 1, "data": {}}).encode(),
            "array": b"[1, 2]",
            "not_utf8": b'{"id": "\xff"}',
            "oversized": b'{"pad": "' + b"x" * (512 * 1024) + b'"}',
        }[case]
        headers = _sign(body, secret) if case != "not_utf8" else {"Stripe-Signature": "t=1,v1=00"}
    response = recorder.post(body, headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert _count(engine) == 0
    assert recorder.config.counters[f"webhooks.rejected.{code}"] == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/webhooks/stripe", 405, id="wrong-method"),
        pytest.param("POST", "/webhooks/other", 404, id="wrong-path"),
        pytest.param("DELETE", "/healthz", 405, id="delete-healthz"),
    ],
)
def test_wrong_method_or_path_gets_json_error(
    recorder: Recorder, engine: Engine, method: str, path: str, status: int
) -> None:
    import httpx

    response = httpx.request(method, recorder.url + path, content=b"{}")
    assert response.status_code == status
    assert "error" in response.json()
    assert _count(engine) == 0
