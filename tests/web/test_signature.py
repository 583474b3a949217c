"""Signature freshness: a timestamp more than the tolerance away from now, in either
direction, is refused; a tolerance that is not positive is a configuration error at start."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine

from paywindow.clock import ManualClock
from paywindow.errors import ConfigError
from paywindow.settings import load_settings
from paywindow.web.app import create_app
from tests import factories as f
from tests.web.conftest import Recorder, recorder_config, serve_in_thread


def _body() -> bytes:
    return f.body_of(f.event("checkout.session.completed", f.session("ord_s")))


@pytest.mark.parametrize(
    ("offset", "status", "code"),
    [
        pytest.param(3600, 400, "future_signature", id="an-hour-ahead"),
        # a few seconds past the edge: the server reads its clock a moment after we sign
        pytest.param(306, 400, "future_signature", id="just-beyond-the-tolerance-ahead"),
        pytest.param(290, 200, None, id="skew-within-the-tolerance-ahead"),
        pytest.param(-290, 200, None, id="within-the-tolerance-behind"),
        pytest.param(-301, 400, "stale_signature", id="just-beyond-the-tolerance-behind"),
    ],
)
def test_a_timestamp_beyond_the_tolerance_either_way_is_refused(
    recorder: Recorder, offset: int, status: int, code: str | None
) -> None:
    response = recorder.deliver(_body(), at=int(time.time()) + offset)
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error"]["code"] == code


@pytest.fixture
def recorder_an_hour_ahead(engine: Engine) -> Iterator[Recorder]:
    clock = ManualClock(datetime.now(UTC) + timedelta(hours=1))
    config = recorder_config(engine, clock=clock)
    for url in serve_in_thread(create_app(config)):
        yield Recorder(url=url, secrets=config.secrets, config=config)


def test_freshness_is_judged_by_wall_clock_time(recorder_an_hour_ahead: Recorder) -> None:
    """Stripe (and the sandbox) sign with real time; the recorder's clock may be simulated."""
    assert recorder_an_hour_ahead.deliver(_body()).status_code == 200
    response = recorder_an_hour_ahead.deliver(_body(), at=int(time.time()) + 3600)
    assert response.json()["error"]["code"] == "future_signature"


@pytest.mark.parametrize("tolerance", [0, -1])
def test_a_tolerance_that_is_not_positive_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, tolerance: int
) -> None:
    with pytest.raises(ConfigError, match="tolerance"):
        recorder_config(create_engine("sqlite://"), tolerance=tolerance)
    monkeypatch.setenv("PAYWINDOW_WEBHOOK_TOLERANCE", str(tolerance))
    with pytest.raises(ConfigError, match="PAYWINDOW_WEBHOOK_TOLERANCE"):
        load_settings()
