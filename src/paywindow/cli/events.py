"""``paywindow events ...``: recorded Stripe events — apply, replay, backfill, list, show."""

from __future__ import annotations

import sys
from datetime import datetime

import typer

from paywindow.cli._shell import console, fail, resources

__all__ = ["events_app"]

events_app = typer.Typer(no_args_is_help=True, help="Recorded Stripe events.")


@events_app.command("process")
def events_process(
    limit: int = typer.Option(1000, help="Most events to apply in one sweep."),
) -> None:
    """Apply every due event once (batch use; `serve` does this continuously)."""
    from paywindow import jobs
    from paywindow.clock import SystemClock

    total: dict[str, int] = {}
    with resources() as res:
        while True:
            counts = jobs.process_events(res, SystemClock(), limit=limit)
            for status, count in counts.items():
                total[status] = total.get(status, 0) + count
            if sum(counts.values()) < limit:
                break
    console.print(total or "no events due")


@events_app.command("replay")
def events_replay(
    event_id: list[str] = typer.Option(None, "--id", help="Event id (repeatable)."),
    failed: bool = typer.Option(False, "--failed", help="Every failed event."),
    since: datetime | None = typer.Option(None, help="Every event received since this time."),
) -> None:
    """Re-apply chosen events now (idempotent)."""
    from paywindow import jobs
    from paywindow.clock import SystemClock, utc
    from paywindow.inbox.processor import replay

    if not (event_id or failed or since):
        raise fail("give --id, --failed or --since", 2)
    clock = SystemClock()
    with resources() as res:
        count = replay(
            res.engine,
            clock.now(),
            event_ids=event_id,
            failed=failed,
            since=utc(since) if since else None,
        )
        counts = jobs.process_events(res, clock)
    console.print(f"replayed {count} event(s): {counts}")


@events_app.command("backfill")
def events_backfill(
    since: datetime = typer.Option(..., help="Pull Stripe's events since this time (30 days)."),
) -> None:
    """Record and apply every Stripe event since SINCE that the log lacks (missed webhooks;
    what the backfill-events deployment runs)."""
    from paywindow import jobs
    from paywindow.clock import SystemClock, utc

    with resources(migrated=True) as res:
        console.print(jobs.backfill_events(res, SystemClock(), since=utc(since)))


@events_app.command("list")
def events_list(
    status: str | None = typer.Option(None, help="pending, applied, ignored or failed."),
    kind: str | None = typer.Option(None, "--type", help="Event type, e.g. charge.refunded."),
    limit: int = typer.Option(50),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recent events, newest first."""
    from rich.table import Table

    from paywindow.cli.views import list_events, to_json

    with resources() as res:
        rows = list_events(res.engine, status=status, kind=kind, limit=limit)
    if as_json:
        sys.stdout.write(to_json(rows) + "\n")
        return
    table = Table("event", "type", "status", "tries", "order", "received", "note / error")
    for r in rows:
        table.add_row(
            r["event_id"],
            r["type"],
            r["status"],
            str(r["attempts"]),
            r["order_id"] or "",
            r["received_at"].isoformat(timespec="seconds"),
            (r["last_error"] or r["note"] or "")[:60],
        )
    console.print(table)


@events_app.command("show")
def events_show(event_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One event with its raw body, headers, status and last error."""
    from paywindow.cli.views import show_event, to_json

    with resources() as res:
        event = show_event(res.engine, event_id)
    if as_json:
        sys.stdout.write(to_json(event) + "\n")
        return
    traceback = event.pop("last_traceback")
    console.print_json(to_json(event))
    if traceback:
        console.print(traceback)
