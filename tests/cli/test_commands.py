"""The command line as on-call uses it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from paywindow.cli.app import app
from paywindow.store.tables import orders
from tests import factories as f
from tests.payments.helpers import apply

runner = CliRunner()


def test_serve_refuses_an_unmigrated_database(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYWINDOW_DATABASE_URL", f"sqlite:///{tmp_path}/fresh.db")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "run `paywindow db upgrade`" in result.output


def test_invalid_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYWINDOW_DATABASE_URL", "mysql://nope")
    monkeypatch.setenv("PAYWINDOW_STRIPE_WEBHOOK_SECRETS", "not-a-secret")
    result = runner.invoke(app, ["events", "list"])
    assert result.exit_code == 2
    assert "PAYWINDOW_DATABASE_URL" in result.output
    assert "PAYWINDOW_STRIPE_WEBHOOK_SECRETS" in result.output


def test_db_upgrade_then_admin_views(
    db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYWINDOW_DATABASE_URL", db_url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0  # already at head: no-op
    oid = f.open_order(engine)
    decline = f.event("payment_intent.payment_failed", f.decline(oid, "insufficient_funds"))
    apply(engine, decline)

    listed = runner.invoke(app, ["events", "list", "--json", "--status", "applied"])
    assert listed.exit_code == 0, listed.output
    assert [e["event_id"] for e in json.loads(listed.output)] == [decline["id"]]

    shown = runner.invoke(app, ["events", "show", decline["id"], "--json"])
    assert json.loads(shown.output)["body"]["type"] == "payment_intent.payment_failed"

    order = runner.invoke(app, ["orders", "show", oid, "--json"])
    detail = json.loads(order.output)
    assert detail["state"] == "payment_failed"
    assert detail["transitions"][0]["to_state"] == "payment_failed"
    assert detail["failures"][0]["decline_code"] == "insufficient_funds"

    table = runner.invoke(app, ["orders", "show", oid])
    assert table.output.startswith(f"{oid}  payment_failed  deadline 2026-11-29T12:00:00+00:00")

    missing = runner.invoke(app, ["orders", "show", "ord_missing"])
    assert missing.exit_code == 1
    assert "no order ord_missing" in missing.output


def test_events_replay_needs_a_selection(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    monkeypatch.setenv("PAYWINDOW_DATABASE_URL", db_url)
    result = runner.invoke(app, ["events", "replay"])
    assert result.exit_code == 2


def test_events_process_and_replay(
    db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYWINDOW_DATABASE_URL", db_url)
    evt = f.event("payment_intent.succeeded", f.payment_intent("ord_cli"))
    f.record(engine, evt)
    assert "ignored" in runner.invoke(app, ["events", "process"]).output  # no such order yet
    f.open_order(engine, "ord_cli")
    replayed = runner.invoke(app, ["events", "replay", "--id", evt["id"]])
    assert "replayed 1 event(s)" in replayed.output
    assert "applied" in replayed.output


def test_help_imports_nothing_heavy() -> None:
    """``paywindow --help`` (and a group's help) must not import the database driver, Stripe,
    boto3, DuckDB, Arrow, WeasyPrint or Prefect: sub-apps load only when their command runs."""
    import subprocess
    import sys

    heavy = ["duckdb", "pyarrow", "boto3", "cryptography", "prefect", "stripe", "sqlalchemy"]
    heavy += ["weasyprint", "fastapi", "uvicorn", "moto"]
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from paywindow.cli.app import app\n"
        "for args in (['--help'], ['receipts', '--help'], ['ledger', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_alerts_check_names_what_holds(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYWINDOW_DATABASE_URL", engine.url.render_as_string(False))
    clean = runner.invoke(app, ["alerts", "check"])
    assert clean.exit_code == 0, clean.output
    assert "no alert condition holds" in clean.output
    f.open_order(engine, "ord_held")
    with engine.begin() as conn:
        conn.execute(
            update(orders)
            .where(orders.c.id == "ord_held")
            .values(state="payment_mismatch", held_reason="amount 1 usd, not 1500 usd")
        )
    held = runner.invoke(app, ["alerts", "check", "--json"])
    assert held.exit_code == 1
    assert "paywindow.payments.held_for_review" in held.output
    assert "ord_held" in held.output
