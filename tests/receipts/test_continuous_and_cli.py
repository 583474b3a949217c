"""The continuous renderer on a real process pool, and the admin CLI."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paywindow.cli.app import app
from paywindow.clock import ManualClock
from paywindow.receipts.pool import RenderPool
from paywindow.receipts.repository import receipts_for_order
from paywindow.receipts.service import ReceiptConfig
from paywindow.sandbox.s3 import TEST_CREDENTIALS, S3Handle
from tests.world import REPORTS, pay_order, receipt_service


def _stored(engine: Engine, order_id: str) -> bool:
    with engine.connect() as conn:
        rows = receipts_for_order(conn, order_id)
    return bool(rows) and rows[0]["status"] == "stored"


def test_continuous_renderer_picks_up_a_payment_within_a_second(
    engine: Engine, s3: S3Handle, clock: ManualClock
) -> None:
    service = receipt_service(engine, s3, poll_interval=0.05)
    assert isinstance(service.config, ReceiptConfig)
    stop = threading.Event()
    with RenderPool(REPORTS, workers=2) as pool:
        pool.warm_up()
        runner = threading.Thread(
            target=service.run,
            args=(clock, pool.submit),
            kwargs={"slots": 4, "stop": stop, "max_runtime": 60},
        )
        runner.start()
        try:
            time.sleep(0.3)
            pay_order(engine, "ord_c1")
            paid_at = time.monotonic()
            while not _stored(engine, "ord_c1") and time.monotonic() - paid_at < 10:
                time.sleep(0.02)
            assert time.monotonic() - paid_at < 1.5
        finally:
            stop.set()
            runner.join(30)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, db_url: str, s3: S3Handle, tmp_path: Path) -> None:
    for name, value in {
        "DATABASE_URL": db_url,
        "S3_ENDPOINT_URL": s3.endpoint_url,
        "S3_ACCESS_KEY_ID": TEST_CREDENTIALS["access_key_id"],
        "S3_SECRET_ACCESS_KEY": TEST_CREDENTIALS["secret_access_key"],
        "RECEIPTS_BUCKET": s3.bucket,
        "RECEIPTS_KMS_KEY_ID": s3.kms_key_id,
    }.items():
        monkeypatch.setenv(f"PAYWINDOW_{name}", value)
    monkeypatch.chdir(tmp_path)  # no .env from the checkout


def test_cli_render_list_url_and_rerender(env: None, engine: Engine) -> None:
    pay_order(engine, "ord_cli")
    cli = CliRunner()
    rendered = cli.invoke(app, ["receipts", "render"])
    assert rendered.exit_code == 0, rendered.output
    assert "stored 1" in rendered.output
    listed = cli.invoke(app, ["receipts", "list", "--json"])
    assert '"number": "R-2026-000001"' in listed.output
    link = cli.invoke(app, ["receipts", "url", "ord_cli"])
    assert "X-Amz-Signature" in link.output
    again = cli.invoke(app, ["receipts", "rerender", "ord_cli", "--reason", "typo in seller name"])
    assert again.exit_code == 0, again.output
    assert "version 2 requested; stored 1" in again.output
    with engine.connect() as conn:
        (row,) = receipts_for_order(conn, "ord_cli")
    assert (row["version"], row["rerender_reason"]) == (2, "typo in seller name")
