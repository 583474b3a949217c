"""``paywindow alerts``: install and list the alerting automations on the Prefect server.

The Prefect server is the one ``PREFECT_API_URL`` names; the notification block comes from
``PAYWINDOW_ALERTS_NOTIFY_BLOCK``. See docs/operations.md for what each alert means.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from paywindow.errors import ConfigError
from paywindow.health import ALERTS, build_automations, install, installed, notify_block_id
from paywindow.settings import load_settings

__all__ = ["alerts_app"]

alerts_app = typer.Typer(no_args_is_help=True, help="Alerts (Prefect automations).")
console = Console()
err = Console(stderr=True)


@alerts_app.command("install")
def install_command(
    dry_run: bool = typer.Option(False, "--dry-run", help="Print them; change nothing."),
) -> None:
    """Create or update the alert automations by name (safe to run again)."""
    try:
        spec = load_settings().alerts_notify_block
    except ConfigError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if dry_run:
        automations = build_automations(None)
        console.print_json(json.dumps([a.model_dump(mode="json") for a in automations]))
        if spec:
            console.print(f"actions would notify through the block {spec}")
        return
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        automations = build_automations(notify_block_id(client, spec))
        for name, outcome in install(client, automations):
            console.print(f"{outcome:8} {name}")


@alerts_app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """The alert automations on the Prefect server and whether each is enabled."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        found = installed(client)
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
