"""``paywindow orders ...`` and ``paywindow windows ...``: one order, re-reads, the window."""

from __future__ import annotations

import sys
from datetime import datetime

import typer

from paywindow.cli._shell import console, resources

__all__ = ["orders_app", "windows_app"]

orders_app = typer.Typer(no_args_is_help=True, help="Orders.")
windows_app = typer.Typer(no_args_is_help=True, help="The payment window.")


@orders_app.command("show")
def orders_show(order_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One order: state, deadline, attempts, failures and every transition."""
    from rich.table import Table

    from paywindow.cli.views import show_order, to_json

    with resources() as res:
        order = show_order(res.engine, order_id)
    if as_json:
        sys.stdout.write(to_json(order) + "\n")
        return
    console.print(
        f"[bold]{order['id']}[/]  {order['state']}  deadline {order['deadline'].isoformat()}"
    )
    console.print(
        f"{order['amount_total']} {order['currency']}  refunded {order['amount_refunded']}"
    )
    table = Table("from", "to", "reason", "event", "at")
    for t in order["transitions"]:
        table.add_row(
            t["from_state"], t["to_state"], t["reason"], t["event_id"] or "", t["at"].isoformat()
        )
    console.print(table)


@orders_app.command("resync")
def orders_resync(
    start: datetime = typer.Option(..., "--from", help="Orders created from this time (UTC)."),
    end: datetime = typer.Option(..., "--to", help="... up to this time, excluded."),
) -> None:
    """Re-read at Stripe the unsettled orders created in [FROM, TO) (what the resync-orders
    deployment runs)."""
    from paywindow import jobs
    from paywindow.clock import SystemClock, utc

    with resources(migrated=True) as res:
        console.print(jobs.resync_orders(res, SystemClock(), start=utc(start), end=utc(end)))


@windows_app.command("enforce")
def windows_enforce(
    horizon: float = typer.Option(60.0, help="Seconds to keep closing windows on time."),
) -> None:
    """Close overdue windows, then each one at its deadline for HORIZON seconds (what the
    expire-windows deployment does every minute)."""
    from paywindow import jobs
    from paywindow.clock import SystemClock

    with resources() as res:
        console.print(jobs.expire_windows(res, SystemClock(), horizon=horizon))
