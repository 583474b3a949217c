"""The ``paywindow`` command line (Typer)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="paywindow back office.")


@app.command()
def sandbox(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(12111, help="Port to listen on."),
    state: Path | None = typer.Option(None, help="JSON file that keeps state across restarts."),
) -> None:
    """Run the offline Stripe sandbox (a stateful, wire-compatible Stripe emulator)."""
    from paywindow.sandbox.server import run

    run(host=host, port=port, state_file=state)


def main() -> None:
    app()
