"""``paywindow ledger ...``, ``paywindow findings ...`` and ``paywindow reconcile``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from paywindow.cli._shell import console, fail, resources, settings

__all__ = ["findings_app", "ledger_app", "reconcile_app"]

ledger_app = typer.Typer(no_args_is_help=True, help="Stripe's ledger, synced to Parquet.")
findings_app = typer.Typer(no_args_is_help=True, help="Reconciliation findings.")
reconcile_app = typer.Typer()


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value


@ledger_app.command("sync")
def ledger_sync(
    since: datetime | None = typer.Option(
        None, "--since", help="Read from this time instead of each cursor (UTC, ISO date)."
    ),
) -> None:
    """Pull balance transactions, charges, refunds, disputes, payouts, transfers, fees."""
    from paywindow import jobs
    from paywindow.clock import SystemClock

    with resources(migrated=True) as res:
        rows = jobs.sync_ledger(res, SystemClock(), since=_utc(since))
        for table, count in rows.items():
            console.print(f"{table:22} {count:>8} rows")
        console.print(f"ledger under {res.settings.data_dir / 'ledger'}")


@ledger_app.command("import-csv")
def ledger_import_csv(file: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Import a Stripe itemized report CSV (balance change from activity, payout reconciliation)."""
    from paywindow.reconcile.csv_import import import_report_csv

    configured = settings()
    try:
        rows = import_report_csv(file, configured.data_dir, now=datetime.now(UTC))
    except ValueError as exc:
        raise fail(exc) from exc
    for table, count in rows.items():
        console.print(f"{table:22} {count:>8} rows")


@findings_app.command("list")
def findings_list(
    status: str = typer.Option("open", help="open, resolved or all."),
    run: int | None = typer.Option(None, help="Only the findings of this run."),
) -> None:
    """List stored findings."""
    from rich.table import Table

    from paywindow.reconcile.amounts import format_amount
    from paywindow.reconcile.findings import list_findings

    with resources(migrated=True) as res:
        found = list_findings(res.engine, status=status, run_id=run)
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

    with resources(migrated=True) as res:
        stored = resolve_finding(res.engine, finding_id, note, datetime.now(UTC))
    console.print(f"finding {stored.id} ({stored.kind}) resolved: {note}")


@reconcile_app.command("reconcile")
def reconcile_command(
    first: datetime = typer.Option(..., "--from", help="First day (UTC), inclusive."),
    last: datetime = typer.Option(..., "--to", help="Last day (UTC), inclusive."),
    out: Path = typer.Option(Path("var/reports"), "--out", help="Where reports are written."),
    sync: bool = typer.Option(False, "--sync", help="Sync the ledger from Stripe first."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write the PDF."),
) -> None:
    """Reconcile Stripe's ledger with local state for a range of days; write the reports."""
    from paywindow import jobs
    from paywindow.clock import SystemClock

    if last.date() < first.date():
        raise fail("--to is before --from", 2)
    clock = SystemClock()
    with resources(migrated=True) as res:
        if sync:
            jobs.sync_ledger(res, clock)
        outcome = jobs.reconcile_period(
            res, clock, first=first.date(), last=last.date(), out_dir=out, pdf=pdf
        )
    console.print(outcome["markdown"])
    for path in outcome["files"].values():
        console.print(f"wrote {path}")
