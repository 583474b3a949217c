"""``paywindow alerts``: check the alert conditions now; install and list the alerting
automations on the Prefect server.

The Prefect server is the one ``PREFECT_API_URL`` names; the notification block comes from
``PAYWINDOW_ALERTS_NOTIFY_BLOCK``. The automations are Prefect code and live beside the
deployments (``tasks/automations.py`` in the checkout that holds ``prefect.yaml``). See
docs/operations.md for what each alert means.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import typer

from paywindow.cli._shell import console, err, fail, resources, settings

__all__ = ["alerts_app"]

alerts_app = typer.Typer(no_args_is_help=True, help="Alerts (Prefect automations).")


def _automations() -> ModuleType:
    """``tasks.automations``, from the checkout this runs in (cwd or a parent, or the source
    checkout of an editable install)."""
    try:
        return importlib.import_module("tasks.automations")
    except ModuleNotFoundError:
        pass
    from paywindow.resources import checkout_root

    here = Path.cwd().resolve()
    for root in (here, *here.parents, checkout_root()):
        if root is not None and (root / "tasks" / "automations.py").is_file():
            sys.path.insert(0, str(root))
            return importlib.import_module("tasks.automations")
    raise fail(
        "the alert automations live beside the Prefect deployments: run this from the "
        "paywindow checkout (the folder with prefect.yaml)",
        2,
    )


@alerts_app.command("check")
def check_command(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Evaluate the alert conditions now and print the ones that hold (what the check-health
    deployment does every 10 minutes, without emitting events); exits 1 if any holds."""
    from paywindow import jobs
    from paywindow.clock import SystemClock

    with resources() as res:
        signals = jobs.check_health(res, SystemClock())
    if as_json:
        rows = [{"event": s.event, "resource": s.resource, "payload": s.payload} for s in signals]
        console.print_json(json.dumps(rows, default=str))
    for signal in [] if as_json else signals:
        console.print(f"[yellow]{signal.event}[/]: {json.dumps(signal.payload, default=str)}")
    if not signals and not as_json:
        console.print("no alert condition holds")
    if signals:
        raise typer.Exit(1)


@alerts_app.command("install")
def install_command(
    dry_run: bool = typer.Option(False, "--dry-run", help="Print them; change nothing."),
) -> None:
    """Create or update the alert automations by name (safe to run again)."""
    spec = settings().alerts_notify_block
    automations = _automations()
    if dry_run:
        built = automations.build_automations(None)
        console.print_json(json.dumps([a.model_dump(mode="json") for a in built]))
        if spec:
            console.print(f"actions would notify through the block {spec}")
        return
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        built = automations.build_automations(automations.notify_block_id(client, spec))
        for name, outcome in automations.install(client, built):
            console.print(f"{outcome:8} {name}")


@alerts_app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """The alert automations on the Prefect server and whether each is enabled."""
    from prefect.client.orchestration import get_client
    from rich.table import Table

    from paywindow.health import ALERTS

    automations = _automations()
    with get_client(sync_client=True) as client:
        found = automations.installed(client)
    rows = [
        {
            "name": a.name,
            "enabled": a.enabled,
            "events": sorted(a.trigger.expect),
            "actions": [action.type for action in a.actions],
        }
        for a in found
    ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("alert", "enabled", "events", "actions")
    for row in rows:
        table.add_row(
            row["name"], str(row["enabled"]), ", ".join(row["events"]), ", ".join(row["actions"])
        )
    console.print(table)
    missing = {a.name for a in ALERTS} - {row["name"] for row in rows}
    if missing:
        err.print(f"[yellow]not installed:[/] {', '.join(sorted(missing))}")
