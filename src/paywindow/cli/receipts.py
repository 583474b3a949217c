"""``paywindow receipts ...``: render, run, list, show links, and re-render with a reason.

Mounted by ``paywindow.cli.app`` as the ``receipts`` sub-app.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select

from paywindow.clock import SystemClock
from paywindow.errors import PaywindowError
from paywindow.receipts.repository import request_rerender
from paywindow.receipts.service import ReceiptService
from paywindow.receipts.wiring import service_from_settings
from paywindow.settings import Settings, load_settings
from paywindow.store.tables import receipts

__all__ = ["receipts_app"]

receipts_app = typer.Typer(no_args_is_help=True, help="Receipts and credit notes (PDF in S3).")
console = Console()


@contextmanager
def _service() -> Iterator[tuple[Settings, Engine, ReceiptService]]:
    from paywindow.store import make_engine

    try:
        settings = load_settings()
        engine = make_engine(settings.database_url, busy_timeout=settings.db_busy_timeout)
    except PaywindowError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    try:
        yield settings, engine, service_from_settings(settings, engine)
    finally:
        engine.dispose()


def _inline_renderer(settings: Settings) -> Any:
    """Render in this process (WeasyPrint is imported only when a command renders)."""
    from paywindow.paths import reports_dir
    from paywindow.receipts.pool import inline
    from paywindow.receipts.render import Renderer

    return inline(Renderer(reports_dir(settings)))


@receipts_app.command("render")
def render(limit: int = typer.Option(1000, help="Render at most this many documents.")) -> None:
    """Issue and render every receipt due now (in this process), then exit."""
    with _service() as (settings, _engine, service):
        report = service.run_once(SystemClock(), _inline_renderer(settings), limit=limit)
    console.print(
        f"issued {report.issued}, stored {report.stored} "
        f"(adopted {report.adopted}), failed {report.failed}"
    )
    if report.failed:
        raise typer.Exit(1)


@receipts_app.command("run")
def run(
    max_runtime: float = typer.Option(0, help="Seconds to run; 0 runs until interrupted."),
    workers: int = typer.Option(0, help="Render processes; 0 = PAYWINDOW_RECEIPTS_WORKERS."),
) -> None:
    """Render continuously on every core (what the render-receipts deployment runs)."""
    stop = threading.Event()
    with _service() as (settings, _engine, service):
        from paywindow.paths import reports_dir
        from paywindow.receipts.pool import RenderPool

        pool = RenderPool(reports_dir(settings), workers or settings.receipts_workers)
        try:
            pool.warm_up()
            report = service.run(
                SystemClock(),
                pool.submit,
                slots=pool.workers * 2,
                stop=stop,
                max_runtime=max_runtime or None,
            )
        except KeyboardInterrupt:
            stop.set()
            return
        finally:
            pool.close()
    console.print(f"issued {report.issued}, stored {report.stored}, failed {report.failed}")


@receipts_app.command("list")
def list_receipts(
    order: str | None = typer.Option(None, help="Only this order's documents."),
    status: str | None = typer.Option(None, help="pending, stored or failed."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """Receipts and credit notes with their status, version and hash."""
    with _service() as (_settings, engine, _unused):
        query = select(receipts).order_by(receipts.c.id)
        if order:
            query = query.where(receipts.c.order_id == order)
        if status:
            query = query.where(receipts.c.status == status)
        with engine.connect() as conn:
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
    with _service() as (_settings, _engine, service):
        status, links = service.links(order, SystemClock().now())
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
    clock = SystemClock()
    with _service() as (settings, engine, service):
        with engine.begin() as conn:
            row = request_rerender(conn, order, reason=reason, now=clock.now(), number=number)
        if row is None:
            console.print(f"[red]{order}: no such receipt[/red]")
            raise typer.Exit(1)
        report = service.run_once(clock, _inline_renderer(settings))
    console.print(
        f"{row['number']}: version {row['target_version']} requested; "
        f"stored {report.stored}, failed {report.failed}"
    )
    if report.failed:
        raise typer.Exit(1)
