"""Manual retry for support (POST /v1/orders/{id}/retry and the CLI) and the report command."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from paywindow.payments.retry_api import router
from paywindow.payments.retry_cli import retry_app
from tests.recorder.conftest import serve_in_thread
from tests.retries.helpers import attempts_of, failed_order, links, run, state_of
from tests.world import World


@pytest.fixture
def api(world: World) -> Iterator[httpx.Client]:
    app = FastAPI()
    app.state.orders = world.service
    app.include_router(router)
    for url in serve_in_thread(app):
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client


def test_manual_retry_runs_the_next_attempt_now_within_the_limits(
    world: World, api: httpx.Client
) -> None:
    assert api.post("/v1/orders/ord_none/retry").json()["error"]["code"] == "not_found"
    world.create("ord_fine")
    answer = api.post("/v1/orders/ord_fine/retry")
    assert answer.status_code == 409 and "no failed payment" in answer.json()["error"]["message"]
    failed_order(world, "ord_m")
    world.advance(timedelta(minutes=10))
    for number in (1, 2, 3):
        answer = api.post("/v1/orders/ord_m/retry")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["retry"], body["outcome"], body["channel"]) == (number, "link_sent", "link")
        world.settle()
    assert [a["manual"] for a in attempts_of(world, "ord_m")] == [True, True, True]
    assert len(links(world)) == 3
    refused = api.post("/v1/orders/ord_m/retry")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "conflict"
    assert "no retry left" in refused.json()["error"]["message"]
    run(world)
    assert state_of(world, "ord_m") == "awaiting_payment"


def test_manual_retry_after_the_deadline_is_refused(world: World, api: httpx.Client) -> None:
    failed_order(world, "ord_late")
    run(world)
    world.advance(timedelta(hours=24, seconds=1))
    answer = api.post("/v1/orders/ord_late/retry")
    assert answer.status_code == 409, answer.text


@pytest.fixture
def cli_env(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("PAYWINDOW_DATABASE_URL", world.engine.url.render_as_string(False))
    monkeypatch.setenv("PAYWINDOW_STRIPE_API_KEY", world.sandbox.api_key)
    monkeypatch.setenv("PAYWINDOW_STRIPE_API_BASE", world.sandbox.base_url)
    return world


def test_cli_retry_and_report(cli_env: World, tmp_path: Path) -> None:
    runner = CliRunner()
    refused = runner.invoke(retry_app, ["order", "ord_missing"])
    assert refused.exit_code == 1 and "no order ord_missing" in refused.output
    failed_order(cli_env, "ord_cli")
    run(cli_env)
    day = cli_env.clock.now().date().isoformat()
    result = runner.invoke(
        retry_app, ["report", "--from", day, "--to", day, "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert "recovery 0.0% (0/1)" in result.output
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".csv", ".html"]
