"""``paywindow ledger ...``, ``paywindow findings ...`` and ``paywindow reconcile``.

Mounted by ``paywindow.cli.app`` (``ledger_app``, ``findings_app``, ``reconcile_command``). A thin
shell: settings in, one domain call, output.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from paywindow.errors import ConfigError, PaywindowError
from paywindow.paths import reports_dir, sql_dir
from paywindow.reconcile.amounts import format_amount
from paywindow.reconcile.matching import Slas
from paywindow.reconcile.report import ReportFiles
from paywindow.settings import Settings, load_settings

__all__ = ["findings_app", "ledger_app", "reconcile_command"]

ledger_app = typer.Typer(no_args_is_help=True, help="Stripe's ledger, synced to Parquet.")
findings_app = typer.Typer(no_args_is_help=True, help="Reconciliation findings.")
console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


@contextmanager
def _database(settings: Settings) -> Iterator[Engine]:
    from paywindow.store import check_migrated, make_engine

    engine = make_engine(settings.database_url, busy_timeout=settings.db_busy_timeout)
    try:
        check_migrated(engine)
        yield engine
    except PaywindowError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()


def _now() -> datetime:
    return datetime.now(UTC)


def _sync(settings: Settings, engine: Engine, since: datetime | None) -> dict[str, int]:
    from paywindow.gateway import make_stripe_client
    from paywindow.reconcile.sync import sync_ledger

    key = settings.stripe_api_key.get_secret_value() if settings.stripe_api_key else None
    client = make_stripe_client(key, settings.stripe_api_base)
    report = sync_ledger(
        engine,
        client,
        settings.data_dir,
        now=_now(),
        overlap=settings.reconcile_sync_overlap,
        since=since,
    )
    return report.rows


@ledger_app.command("sync")
def ledger_sync(
    since: datetime | None = typer.Option(
        None, "--since", help="Read from this time instead of each cursor (UTC, ISO date)."
    ),
) -> None:
    """Pull balance transactions, charges, refunds, disputes, payouts, transfers, fees."""
    settings = _settings()
    when = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    with _database(settings) as engine:
        rows = _sync(settings, engine, when)
    for table, count in rows.items():
        console.print(f"{table:22} {count:>8} rows")
    console.print(f"ledger under {settings.data_dir / 'ledger'}")


@ledger_app.command("import-csv")
def ledger_import_csv(file: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Import a Stripe itemized report CSV (balance change from activity, payout reconciliation)."""
    from paywindow.reconcile.csv_import import import_report_csv

    settings = _settings()
    try:
        rows = import_report_csv(file, settings.data_dir, now=_now())
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    for table, count in rows.items():
        console.print(f"{table:22} {count:>8} rows")


@findings_app.command("list")
def findings_list(
    status: str = typer.Option("open", help="open, resolved or all."),
    run: int | None = typer.Option(None, help="Only the findings of this run."),
) -> None:
    """List stored findings."""
    from paywindow.reconcile.findings import list_findings

    settings = _settings()
    with _database(settings) as engine:
        found = list_findings(engine, status=status, run_id=run)
    table = Table("id", "kind", "order", "stripe", "here", "stripe", "status", "explanation")
    for f in found:
        table.add_row(
            str(f.id),
            f.kind,
            f.order_id or "",
            f.stripe_id or "",
            format_amount(f.local_amount, f.currency),
            format_amount(f.stripe_amount, f.currency),
            f.status,
            f.explanation + (f" [dim]({f.resolution_note})[/]" if f.resolution_note else ""),
        )
    console.print(table)


@findings_app.command("resolve")
def findings_resolve(
    finding_id: int = typer.Argument(...),
    note: str = typer.Option(..., "--note", help="What was done about it."),
) -> None:
    """Mark a finding resolved, with a note; reruns keep the resolution."""
    from paywindow.reconcile.findings import resolve_finding

    settings = _settings()
    with _database(settings) as engine:
        stored = resolve_finding(engine, finding_id, note, _now())
    console.print(f"finding {stored.id} ({stored.kind}) resolved: {note}")


def reconcile_command(
    first: datetime = typer.Option(..., "--from", help="First day (UTC), inclusive."),
    last: datetime = typer.Option(..., "--to", help="Last day (UTC), inclusive."),
    out: Path = typer.Option(Path("var/reports"), "--out", help="Where reports are written."),
    sync: bool = typer.Option(False, "--sync", help="Sync the ledger from Stripe first."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write the PDF."),
) -> None:
    """Reconcile Stripe's ledger with local state for a range of days; write the reports."""
    settings = _settings()
    with _database(settings) as engine:
        if sync:
            _sync(settings, engine, None)
        files, summary = _reconcile(settings, engine, first.date(), last.date(), out, pdf)
    console.print(summary)
    for path in (files.html, files.pdf, files.csv):
        if path is not None:
            console.print(f"wrote {path}")


def _reconcile(
    settings: Settings, engine: Engine, first: date, last: date, out: Path, pdf: bool
) -> tuple[ReportFiles, str]:
    from paywindow.reconcile.report import markdown_summary, write_reports
    from paywindow.reconcile.run import day_range, reconcile

    if last < first:
        err.print("[red]error:[/] --to is before --from")
        raise typer.Exit(2)
    period_from, period_to = day_range(first, last)
    now = _now()
    result = reconcile(
        engine,
        settings.data_dir,
        sql_dir(settings) / "reconcile",
        period_from=period_from,
        period_to=period_to,
        as_of=now,
        now=now,
        slas=Slas(
            webhook=settings.reconcile_webhook_sla,
            sync=settings.reconcile_sync_sla,
            refund=settings.reconcile_refund_sla,
        ),
        memory_limit=settings.reconcile_duckdb_memory,
        threads=settings.reconcile_duckdb_threads,
    )
    files = write_reports(result, reports_dir(settings) / "reconcile", out, pdf=pdf)
    return files, markdown_summary(result)
