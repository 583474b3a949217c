"""Manual retry for support (POST /v1/orders/{id}/retry and the CLI) and the report command."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paywindow.cli.app import app
from paywindow.cli.serve import warnings_for
from paywindow.clock import SystemClock
from paywindow.errors import ConfigError
from paywindow.settings import load_settings
from paywindow.web.orders import OrdersService
from tests.resources import resources_for
from tests.retries.helpers import attempts_of, failed_order, links, run, state_of
from tests.world import SUPPORT_TOKEN, TOKEN, World, policy


@pytest.fixture
def api(world: World) -> Iterator[httpx.Client]:
    """The served app, called as support (the support token, through the real auth)."""
    auth = {"Authorization": f"Bearer {SUPPORT_TOKEN}"}
    with httpx.Client(base_url=world.url, headers=auth, timeout=30) as client:
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


def test_manual_retry_takes_the_support_token_not_the_app_token(world: World) -> None:
    failed_order(world, "ord_auth")
    world.advance(timedelta(minutes=10))
    as_app = world.api("POST", "/v1/orders/ord_auth/retry")
    assert as_app.status_code == 403, as_app.text
    error = as_app.json()["error"]
    assert error["code"] == "forbidden"
    assert "PAYWINDOW_SUPPORT_TOKEN" in error["message"]
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": SUPPORT_TOKEN}):
        refused = httpx.post(world.url + "/v1/orders/ord_auth/retry", headers=headers)
        assert refused.status_code == 401, (headers, refused.text)
        assert refused.headers["www-authenticate"] == "Bearer"
    assert links(world) == []  # nothing ran
    ran = world.support("POST", "/v1/orders/ord_auth/retry")
    assert ran.status_code == 200, ran.text
    assert ran.json()["outcome"] == "link_sent"
    assert len(links(world)) == 1


def test_the_support_token_reads_orders_but_does_not_open_or_reopen_them(world: World) -> None:
    world.create("ord_look")
    look = world.support("GET", "/v1/orders/ord_look")
    assert look.status_code == 200 and look.json()["state"] == "awaiting_payment"
    receipt = world.support("GET", "/v1/orders/ord_look/receipt")
    assert receipt.json()["error"]["code"] == "receipts_unavailable"  # past the auth: no store
    create = world.support("POST", "/v1/orders", json={"order_id": "ord_support"})
    reopen = world.support("POST", "/v1/orders/ord_look/checkout")
    for answer in (create, reopen):
        assert answer.status_code == 403, answer.text
        assert "PAYWINDOW_API_TOKEN" in answer.json()["error"]["message"]


def test_without_a_support_token_support_routes_refuse_everyone(world: World) -> None:
    failed_order(world, "ord_none_set")
    world.service.support_token = None
    assert world.support("POST", "/v1/orders/ord_none_set/retry").status_code == 401
    assert world.support("GET", "/v1/orders/ord_none_set").status_code == 401
    assert world.api("POST", "/v1/orders/ord_none_set/retry").status_code == 403
    assert world.api("GET", "/v1/orders/ord_none_set").status_code == 200


def test_the_support_token_must_differ_from_the_app_token(world: World) -> None:
    with pytest.raises(ConfigError, match="must differ"):
        OrdersService(world.engine, None, policy(), world.clock, token=TOKEN, support_token=TOKEN)


def test_serve_warns_when_no_support_token_is_set(engine: Engine) -> None:
    service = OrdersService.from_resources(resources_for(engine, api_token="a" * 24), SystemClock())
    assert (service.token, service.support_token) == ("a" * 24, None)
    assert any(
        "PAYWINDOW_SUPPORT_TOKEN is empty" in w for w in warnings_for(load_settings(api_token="a"))
    )
    both = resources_for(engine, api_token="a" * 24, support_token="s" * 24)
    assert OrdersService.from_resources(both, SystemClock()).support_token == "s" * 24
    assert not any("PAYWINDOW_SUPPORT_TOKEN" in w for w in warnings_for(both.settings))


@pytest.fixture
def cli_env(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("PAYWINDOW_DATABASE_URL", world.engine.url.render_as_string(False))
    monkeypatch.setenv("PAYWINDOW_STRIPE_API_KEY", world.sandbox.api_key)
    monkeypatch.setenv("PAYWINDOW_STRIPE_API_BASE", world.sandbox.base_url)
    return world


def test_cli_retry_and_report(cli_env: World, tmp_path: Path) -> None:
    runner = CliRunner()
    refused = runner.invoke(app, ["retry", "ord_missing"])
    assert refused.exit_code == 1 and "no order ord_missing" in refused.output
    failed_order(cli_env, "ord_cli")
    run(cli_env)
    day = cli_env.clock.now().date().isoformat()
    result = runner.invoke(
        app, ["report", "retries", "--from", day, "--to", day, "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert "recovery 0.0% (0/1)" in result.output
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".csv", ".html"]


def test_support_retries_run_on_the_configured_offsets(engine: Engine) -> None:
    """The retry API plans with the operator's offsets, as the scheduled runs do."""
    res = resources_for(engine, retry_offsets="2h,4h", retry_lease=300)
    service = OrdersService.from_resources(res, SystemClock())
    assert service.retries is not None
    assert service.retries.offsets == (timedelta(hours=2), timedelta(hours=4))
    assert service.retries.lease == timedelta(minutes=5)
    assert service.retries.checkout is res.checkout
