"""Envelope bounds: a signed body is acknowledged only if the log can store it and the
processor can read it; anything else is a 400 naming what is wrong, never a 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from paywindow.inbox.processor import process_due
from paywindow.store.tables import event_log
from tests import factories as f
from tests.web.conftest import Recorder

LATEST = 4_102_444_800  # 2100-01-01T00:00:00Z, the processor's last valid timestamp


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(event_log)).scalar_one())


def _event(**overrides: Any) -> dict[str, Any]:
    evt = f.event("checkout.session.completed", f.session("ord_env"))
    evt.update(overrides)
    return evt


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def _with_note(note: str) -> dict[str, Any]:
    evt = _event()
    evt["data"]["object"]["metadata"]["note"] = note
    return evt


BAD = [
    pytest.param(_event(created=2**63), "not_an_event", "created", id="created-2**63"),
    pytest.param(_event(created=LATEST + 1), "not_an_event", "created", id="created-past-2100"),
    pytest.param(_event(created=-1), "not_an_event", "created", id="created-negative"),
    pytest.param(_event(created=1.5), "not_an_event", "created", id="created-float"),
    pytest.param(_event(created="1700000000"), "not_an_event", "created", id="created-string"),
    pytest.param(_event(created=True), "not_an_event", "created", id="created-bool"),
    pytest.param(_event(id="evt_\x00nul"), "not_an_event", "id", id="id-nul"),
    pytest.param(_event(id="evt_\nline"), "not_an_event", "id", id="id-newline"),
    pytest.param(_event(id="evt_" + "x" * 252), "not_an_event", "id", id="id-256-chars"),
    pytest.param(_event(type="checkout.\x00"), "not_an_event", "type", id="type-nul"),
    pytest.param(_event(type="t" * 256), "not_an_event", "type", id="type-256-chars"),
    pytest.param(_event(account="acct_" + "x" * 251), "not_an_event", "account", id="account-long"),
    pytest.param(_event(account="acct_\x00"), "not_an_event", "account", id="account-nul"),
    pytest.param(_event(account=42), "not_an_event", "account", id="account-number"),
    pytest.param(_event(api_version="2" * 65), "not_an_event", "api_version", id="version-long"),
    pytest.param(_event(api_version="2026\x00"), "not_an_event", "api_version", id="version-nul"),
    pytest.param(_event(livemode="false"), "not_an_event", "livemode", id="livemode-string"),
    pytest.param(_with_note("a\x00b"), "nul_character", None, id="nul-in-a-nested-string"),
    pytest.param(_event(deep=_nested(65)), "too_deep", None, id="nested-65"),
]


@pytest.mark.parametrize(("evt", "code", "field"), BAD)
def test_an_unstorable_or_unreadable_envelope_is_refused(
    recorder: Recorder, engine: Engine, evt: dict[str, Any], code: str, field: str | None
) -> None:
    response = recorder.deliver(json.dumps(evt).encode())
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
    if field is not None:
        assert f"'{field}'" in response.json()["error"]["message"]
    assert _count(engine) == 0


@pytest.mark.parametrize(
    ("depth", "code"),
    [
        pytest.param(1000, "too_deep", id="1000-orjson-reads-it"),
        pytest.param(1025, "malformed_json", id="1025-beyond-orjson"),
    ],
)
def test_deep_nesting_is_refused(recorder: Recorder, engine: Engine, depth: int, code: str) -> None:
    envelope = json.dumps(_event(deep="HERE")).encode()
    body = envelope.replace(b'"HERE"', b"[" * depth + b"]" * depth)
    response = recorder.deliver(body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert _count(engine) == 0


ODD_BUT_VALID = [
    pytest.param(_event(created=0), id="created-1970"),
    pytest.param(_event(created=LATEST), id="created-2100"),
    pytest.param(_event(deep=_nested(60)), id="nested-60"),
    pytest.param(_with_note("a literal \\u0000, not a NUL"), id="escaped-backslash-u0000"),
    pytest.param(_with_note("tab\tnewline\n\x1f emoji \U0001f600"), id="controls-in-free-text"),
    pytest.param(_event(id="evt_" + "x" * 251, type="t" * 255), id="id-and-type-255"),
    pytest.param(_event(account="acct_" + "x" * 250, api_version="2" * 64), id="longest-rest"),
    pytest.param(_event(account=None, api_version=None), id="null-account-and-version"),
]


@pytest.mark.parametrize("evt", ODD_BUT_VALID)
def test_whatever_is_acknowledged_is_stored_and_processed(
    recorder: Recorder, engine: Engine, evt: dict[str, Any]
) -> None:
    body = json.dumps(evt).encode()
    response = recorder.deliver(body)
    assert response.status_code == 200, response.text
    process_due(engine, f.NOW)
    with engine.connect() as conn:
        row = conn.execute(select(event_log)).mappings().one()
    assert row["body"] == body
    assert row["status"] != "failed", row["last_error"]
