"""Alerts: the conditions that raise them, and their automations on a real Prefect server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, update
from tasks.automations import build_automations, install, installed

from paywindow.clock import ManualClock
from paywindow.health import (
    ALERTS,
    DEPLOYMENTS,
    EVENTS_FAILING,
    RECEIPTS_PENDING,
    SERVER_ERRORS,
    findings_signal,
    health_signals,
)
from paywindow.store.tables import event_log, orders
from paywindow.web.server_errors import ServerErrorLog
from tests import factories as f
from tests.factories import NOW

ROOT = Path(__file__).resolve().parents[2]

# Prefect's client leaves keep-alive sockets to the test server for the GC to close.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def test_every_deployment_is_watched() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert {d["name"] for d in spec["deployments"]} == set(DEPLOYMENTS)


def test_health_signals_name_failing_events_and_late_receipts(engine: Engine) -> None:
    assert health_signals(engine, NOW, timedelta(minutes=15)) == []
    order_id = f.open_order(engine)
    f.record(engine, f.event("checkout.session.completed", f.session(order_id), id="evt_bad"))
    with engine.begin() as conn:
        conn.execute(update(event_log).values(status="failed"))
        conn.execute(update(orders).values(paid_at=NOW - timedelta(minutes=20)))
    signals = {s.event: s for s in health_signals(engine, NOW, timedelta(minutes=15))}
    assert signals[EVENTS_FAILING].payload["event_ids"] == ["evt_bad"]
    assert signals[RECEIPTS_PENDING].payload["order_ids"] == [order_id]
    assert health_signals(engine, NOW, timedelta(minutes=30))[0].event == EVENTS_FAILING


def _keep_errors(engine: Engine, at: datetime, *answers: tuple[int, str | None]) -> None:
    """Keep 5xx answers as the web shell does (through its ServerErrorLog), all at ``at``."""
    kept = ServerErrorLog(engine, ManualClock(at))
    kept.start()
    for status, correlation_id in answers:
        kept.add(correlation_id, status, "/v1/orders", "Boom" if status == 500 else None)
    kept.stop()
    assert kept.dropped == 0


def _server_signal(engine: Engine) -> Any:
    found = [
        s for s in health_signals(engine, NOW, timedelta(minutes=15)) if s.event == SERVER_ERRORS
    ]
    return found[0] if found else None


def test_a_500_raises_the_server_errors_alert(engine: Engine) -> None:
    _keep_errors(engine, NOW - timedelta(minutes=11), (500, "err_0ld"))
    assert _server_signal(engine) is None  # older than the check's interval
    _keep_errors(engine, NOW - timedelta(minutes=2), (500, "err_1"), (500, "err_2"), (503, None))
    signal = _server_signal(engine)
    assert signal is not None and signal.resource == "paywindow.http"
    assert signal.payload["by_status"] == {"500": 2, "503": 1}
    assert signal.payload["by_route"] == {"/v1/orders": 3}
    assert sorted(signal.payload["correlation_ids"]) == ["err_1", "err_2"]


def test_only_a_run_of_503s_raises_the_server_errors_alert(engine: Engine) -> None:
    _keep_errors(engine, NOW - timedelta(minutes=1), *[(503, f"err_{i}") for i in range(19)])
    assert _server_signal(engine) is None
    _keep_errors(engine, NOW, (502, None))
    signal = _server_signal(engine)
    assert signal is not None and signal.payload["by_status"] == {"503": 19, "502": 1}


def test_findings_signal_only_for_open_findings() -> None:
    assert findings_signal({"open": 0, "findings": 3}) is None
    signal = findings_signal({"run_id": 7, "open": 2, "findings": 3, "by_kind": {"x": 2}})
    assert signal is not None and signal.payload["run_id"] == 7


@pytest.fixture
def prefect_client(prefect_server: str) -> Iterator[Any]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for automation in client.read_automations():  # the server is shared by the session
            client.delete_automation(automation.id)
        yield client


@pytest.mark.slow
def test_install_creates_the_automations_once(prefect_client: Any) -> None:
    first = install(prefect_client, build_automations())
    assert {outcome for _, outcome in first} == {"created"}
    again = install(prefect_client, build_automations())
    assert {outcome for _, outcome in again} == {"updated"}
    found = installed(prefect_client)
    assert [a.name for a in found] == sorted(a.name for a in ALERTS)
    failed = next(a for a in found if a.name.endswith("flow run failed"))
    assert failed.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert all(action.type == "do-nothing" for a in found for action in a.actions)


def test_dry_run_prints_the_automations_without_a_server() -> None:
    from typer.testing import CliRunner

    from paywindow.cli.app import app

    result = CliRunner().invoke(app, ["alerts", "install", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "paywindow.receipts.pending_too_long" in result.output


@pytest.mark.slow
def test_the_cli_installs_and_lists(prefect_client: Any) -> None:
    from typer.testing import CliRunner

    from paywindow.cli.app import app

    runner = CliRunner()
    assert runner.invoke(app, ["alerts", "install"]).exit_code == 0
    listed = runner.invoke(app, ["alerts", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert "paywindow: reconciliation findings" in listed.output
    assert len(installed(prefect_client)) == len(ALERTS)


def test_a_held_order_raises_the_payments_held_alert(engine: Engine) -> None:
    from paywindow.health import PAYMENTS_HELD
    from paywindow.store.tables import orders
    from tests.factories import open_order

    def held() -> list[Any]:
        signals = health_signals(engine, NOW, timedelta(minutes=15))
        return [s for s in signals if s.event == PAYMENTS_HELD]

    oid = open_order(engine)
    assert held() == []
    with engine.begin() as conn:
        conn.execute(
            update(orders)
            .where(orders.c.id == oid)
            .values(state="payment_mismatch", held_reason="amount 2600 is not the order's 2500")
        )
    (signal,) = held()
    assert signal.resource == "paywindow.payments"
    assert signal.payload == {
        "orders": 1,
        "examples": [{"order_id": oid, "reason": "amount 2600 is not the order's 2500"}],
    }
