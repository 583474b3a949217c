"""``paywindow receipts ...``: render, run, list, show links, and re-render with a reason."""

from __future__ import annotations

import json
import threading

import typer

from paywindow.cli._shell import console, resources

__all__ = ["receipts_app"]

receipts_app = typer.Typer(no_args_is_help=True, help="Receipts and credit notes (PDF in S3).")


@receipts_app.command("render")
def render(limit: int = typer.Option(1000, help="Render at most this many documents.")) -> None:
    """Issue and render every receipt due now (in this process), then exit."""
    from paywindow import jobs
    from paywindow.clock import SystemClock

    with resources() as res:
        report = jobs.render_due_receipts(res, SystemClock(), limit=limit)
    console.print(
        f"issued {report['issued']}, stored {report['stored']} "
        f"(adopted {report['adopted']}), failed {report['failed']}"
    )
    if report["failed"]:
        raise typer.Exit(1)


@receipts_app.command("run")
def run(
    max_runtime: float = typer.Option(0, help="Seconds to run; 0 runs until interrupted."),
    workers: int = typer.Option(0, help="Render processes; 0 = PAYWINDOW_RECEIPTS_WORKERS."),
) -> None:
    """Render continuously on every core (what the render-receipts deployment runs)."""
    from paywindow import jobs
    from paywindow.clock import SystemClock

    stop = threading.Event()
    with resources() as res:
        try:
            report = jobs.render_receipts(
                res, SystemClock(), max_runtime=max_runtime or None, workers=workers, stop=stop
            )
        except KeyboardInterrupt:
            stop.set()
            return
    console.print(
        f"issued {report['issued']}, stored {report['stored']}, failed {report['failed']}"
    )


@receipts_app.command("list")
def list_receipts(
    order: str | None = typer.Option(None, help="Only this order's documents."),
    status: str | None = typer.Option(None, help="pending, stored or failed."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """Receipts and credit notes with their status, version and hash."""
    from rich.table import Table
    from sqlalchemy import select

    from paywindow.store.tables import receipts

    with resources() as res:
        query = select(receipts).order_by(receipts.c.id)
        if order:
            query = query.where(receipts.c.order_id == order)
        if status:
            query = query.where(receipts.c.status == status)
        with res.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
    if as_json:
        for row in rows:
            print(json.dumps(row, default=str, sort_keys=True))
        return
    table = Table("number", "kind", "order", "status", "v", "amount", "sha256", "last error")
    for row in rows:
        table.add_row(
            row["number"],
            row["kind"],
            row["order_id"],
            row["status"],
            str(row["version"]),
            f"{row['amount']} {row['currency']}",
            (row["sha256"] or "")[:12],
            (row["last_error"] or "")[:60],
        )
    console.print(table)


@receipts_app.command("url")
def url(order: str = typer.Argument(..., help="Order id.")) -> None:
    """Print the order's download links (valid for PAYWINDOW_RECEIPTS_URL_TTL)."""
    from paywindow.clock import SystemClock

    with resources() as res:
        status, links = res.receipts.links(order, SystemClock().now())
    if not links:
        console.print(f"{order}: {status}")
        raise typer.Exit(1)
    for link in links:
        print(f"{link.kind} {link.number} v{link.version} until {link.expires_at:%Y-%m-%dT%H:%MZ}")
        print(link.url)


@receipts_app.command("rerender")
def rerender(
    order: str = typer.Argument(..., help="Order id."),
    reason: str = typer.Option(..., "--reason", help="Why: kept with the new version."),
    number: str | None = typer.Option(None, help="A credit note's number (default: receipt)."),
) -> None:
    """Store a new version of a receipt; the original stays locked in S3 and listed."""
    from paywindow import jobs
    from paywindow.clock import SystemClock
    from paywindow.receipts.repository import request_rerender

    clock = SystemClock()
    with resources() as res:
        with res.engine.begin() as conn:
            row = request_rerender(conn, order, reason=reason, now=clock.now(), number=number)
        if row is None:
            console.print(f"[red]{order}: no such receipt[/red]")
            raise typer.Exit(1)
        report = jobs.render_due_receipts(res, clock)
    console.print(
        f"{row['number']}: version {row['target_version']} requested; "
        f"stored {report['stored']}, failed {report['failed']}"
    )
    if report["failed"]:
        raise typer.Exit(1)
