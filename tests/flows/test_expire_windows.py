"""The expire-windows flow under a real Prefect test server, on real time: orders whose
deadlines fall inside the run are closed within a second of them."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from paywindow.clock import SystemClock
from paywindow.payments.orders import LineItem, OrderRequest, open_order
from paywindow.sandbox import running_sandbox
from paywindow.settings import load_settings
from paywindow.store.tables import orders
from tests.world import policy

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_expire_windows_flow_closes_on_time(
    engine: Engine, prefect_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("one backend is enough for the flow shell; the domain runs on both")
    with running_sandbox(frozen=False) as sandbox:
        client = sandbox.client()
        seller = client.v1.accounts.create(params={"type": "express"}).id
        # windows long enough that the flow run has started before the first deadline, even
        # on a loaded machine (Prefect's own start-up is not what the timer is judged on)
        for n, seconds in enumerate((8.0, 9.5)):
            request = OrderRequest(
                order_id=f"ord_flow{n}",
                buyer_id="u",
                seller_account=seller,
                currency="usd",
                application_fee_amount=100,
                lines=(LineItem("Poster", 1500, 1),),
            )
            open_order(
                engine, client, request, policy(timedelta(seconds=seconds)), SystemClock().now()
            )
        settings = load_settings(
            database_url=engine.url.render_as_string(hide_password=False),
            stripe_api_key=sandbox.api_key,
            stripe_api_base=sandbox.base_url,
        )
        monkeypatch.syspath_prepend(str(ROOT))
        sys.modules.pop("flows.expire_windows", None)
        from flows.expire_windows import expire_windows

        started = time.monotonic()
        summary = expire_windows(horizon=12.0, settings=settings)
        assert time.monotonic() - started < 30
    assert summary["closed_on_time"] == 2, summary
    assert summary["max_lateness_s"] <= 1.0
    with engine.connect() as conn:
        rows = conn.execute(
            select(orders.c.state, orders.c.deadline, orders.c.window_closed_at)
        ).all()
    assert {r.state for r in rows} == {"expired"}
    for row in rows:
        assert abs((row.window_closed_at - row.deadline).total_seconds()) <= 1.0


@pytest.mark.slow
def test_every_deployment_deploys_to_a_local_prefect_server(
    prefect_server: str, tmp_path: Path
) -> None:
    import os
    import subprocess

    import yaml

    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "PREFECT_HOME": str(tmp_path),
    }
    prefect = [sys.executable, "-m", "prefect"]
    pool = subprocess.run(
        [*prefect, "work-pool", "create", "paywindow", "--type", "process"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert pool.returncode == 0, pool.stderr
    deploy = subprocess.run(
        [*prefect, "--no-prompt", "deploy", "--all"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deploy.returncode == 0, deploy.stdout[-2000:] + deploy.stderr[-2000:]
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        on_server = {d.name for d in client.read_deployments()}
    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    assert {d["name"] for d in declared} <= on_server
    # every flow file is deployed, and every deployment runs a flow file that exists
    flow_files = {f"flows/{p.name}" for p in (ROOT / "flows").glob("*.py") if p.stem != "__init__"}
    assert {d["entrypoint"].split(":")[0] for d in declared} == flow_files
