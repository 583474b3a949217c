"""``paywindow db ...``: the operational database."""

from __future__ import annotations

import typer

from paywindow.cli._shell import console, resources, settings

__all__ = ["db_app"]

db_app = typer.Typer(no_args_is_help=True, help="The operational database.")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply schema migrations (creates the schema on a new database)."""
    from paywindow.store import upgrade

    configured = settings()
    with resources(configured) as res:
        upgrade(res.engine, revision)
    console.print(f"database at {revision}: {configured.database_url.split('@')[-1]}")
