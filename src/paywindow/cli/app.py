"""The ``paywindow`` command line: one Typer app whose sub-apps are imported when used.

Each group lives in its own module of this package (``db``, ``events``, ``orders``,
``windows``, ``receipts``, ``ledger``, ``findings``, ``alerts``, ``report``) and is imported
only when its command runs; the modules themselves import nothing heavy at the top, so
``paywindow --help`` stays light. Commands are thin: settings in, one ``paywindow.jobs`` or
domain call, output.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from paywindow.cli._shell import console

__all__ = ["app", "main"]

#: command -> (module under paywindow.cli, the Typer app in it); the first three are single
#: commands, the rest groups of commands.
_COMMANDS = frozenset({"serve", "reconcile", "retry"})
_LAZY: dict[str, tuple[str, str]] = {
    "serve": ("serve", "serve_app"),
    "reconcile": ("reconcile", "reconcile_app"),
    "retry": ("retries", "retry_app"),
    "db": ("db", "db_app"),
    "events": ("events", "events_app"),
    "orders": ("orders", "orders_app"),
    "windows": ("orders", "windows_app"),
    "receipts": ("receipts", "receipts_app"),
    "alerts": ("alerts", "alerts_app"),
    "ledger": ("reconcile", "ledger_app"),
    "findings": ("reconcile", "findings_app"),
    "report": ("retries", "report_app"),
    "notifications": ("notifications", "notifications_app"),
}


class _LazyGroup(TyperGroup):
    """A group that imports a sub-app's module only when that command is asked for."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*_LAZY, *super().list_commands(ctx)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in _LAZY:
            return super().get_command(ctx, cmd_name)
        module, attribute = _LAZY[cmd_name]
        sub_app = getattr(importlib.import_module(f"paywindow.cli.{module}"), attribute)
        if cmd_name in _COMMANDS:
            command = typer.main.get_command(sub_app)
        else:
            command = typer.main.get_group(sub_app)
        command.name = cmd_name
        return command


app = typer.Typer(
    cls=_LazyGroup, no_args_is_help=True, add_completion=False, help="paywindow back office."
)


@app.command()
def sandbox(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(12111, help="Port to listen on."),
    state: Path | None = typer.Option(None, help="JSON file that keeps state across restarts."),
) -> None:
    """Run the offline Stripe sandbox (a stateful, wire-compatible Stripe emulator)."""
    from paywindow.sandbox.server import run

    run(host=host, port=port, state_file=state)


@app.command("run")
def run_all(
    port: int = typer.Option(8000, help="Port of the recorder and order API."),
) -> None:
    """Prefect UI + worker + every deployment + recorder/API (+ sandbox and S3 emulator)."""
    from paywindow.cli.devstack import run_stack

    run_stack(console, serve_port=port)


@app.command()
def demo(
    orders: int = typer.Option(500, help="Orders opened during the day."),
    keep: bool = typer.Option(False, "--keep", help="Keep var/demo from the last run."),
    seed: int = typer.Option(7, help="Seed of the buyer population."),
) -> None:
    """A marketplace day on embedded defaults: orders, payments, retries, expiries, receipts,
    reconciliation; the report lands in ./out/."""
    from paywindow.cli.demo import run_demo

    run_demo(console, orders_count=orders, keep=keep, seed=seed)


def main(*args: Any) -> None:
    app(*args)
