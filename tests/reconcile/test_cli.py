"""``paywindow ledger``, ``paywindow findings`` and ``paywindow reconcile`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from paywindow.cli.app import app
from tests.reconcile.conftest import Reconciled
from tests.reconcile.test_csv_import import ROWS, _write

runner = CliRunner()


@pytest.fixture
def env(injected: Reconciled, monkeypatch: pytest.MonkeyPatch) -> Reconciled:
    monkeypatch.setenv(
        "PAYWINDOW_DATABASE_URL",
        str(injected.world.engine.url.render_as_string(hide_password=False)),
    )
    monkeypatch.setenv("PAYWINDOW_DATA_DIR", str(injected.world.data_dir))
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("PAYWINDOW_STRIPE_API_KEY", injected.world.sandbox.api_key)
    monkeypatch.setenv("PAYWINDOW_STRIPE_API_BASE", injected.world.sandbox.base_url)
    return injected


def test_reconcile_writes_the_reports(env: Reconciled, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["reconcile", "--from", "2026-11-02", "--to", "2026-11-07", "--out", str(tmp_path),
         "--no-pdf"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "10 findings" in result.output
    assert (tmp_path / "reconcile-2026-11-02_2026-11-07.html").exists()
    assert (tmp_path / "reconcile-2026-11-02_2026-11-07-findings.csv").exists()


def test_findings_list_and_resolve(env: Reconciled) -> None:
    listed = runner.invoke(app, ["findings", "list", "--status", "all"])
    assert listed.exit_code == 0, listed.output
    assert "payout_unexplained" in listed.output
    finding = env.result.findings[0]
    done = runner.invoke(app, ["findings", "resolve", str(finding.id), "--note", "checked"])
    assert done.exit_code == 0 and "resolved" in done.output
    missing = runner.invoke(app, ["findings", "resolve", "999999", "--note", "x"])
    assert missing.exit_code == 1 and "no finding 999999" in missing.output


def test_ledger_sync_and_import(
    env: Reconciled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYWINDOW_DATA_DIR", str(tmp_path))  # leave the world's ledger as it is
    synced = runner.invoke(app, ["ledger", "sync"])
    assert synced.exit_code == 0, synced.output
    assert "balance_transactions" in synced.output
    imported = runner.invoke(app, ["ledger", "import-csv", str(_write(tmp_path, ROWS))])
    assert imported.exit_code == 0, imported.output
    assert "payout_items" in imported.output
