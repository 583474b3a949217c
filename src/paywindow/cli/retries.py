"""``paywindow retry ORDER`` and ``paywindow report retries``: support's manual retry and the
recovery report."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import typer

from paywindow.cli._shell import console, resources

__all__ = ["report_app", "retry_app"]

retry_app = typer.Typer()
report_app = typer.Typer(no_args_is_help=True, help="Finance and operations reports.")


@retry_app.command("retry")
def retry_command(order_id: str = typer.Argument(..., help="The order to retry now.")) -> None:
    """Run ORDER's next retry now (support), within the plan's limits: at most 3, before the
    deadline, never off-session after a hard decline."""
    from paywindow import jobs
    from paywindow.clock import SystemClock

    with resources() as res:
        result = jobs.retry_order(res, SystemClock(), order_id)
    console.print_json(json.dumps(result, default=str))
    if result["outcome"] == "given_back":
        raise typer.Exit(1)


def _day(value: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time(), UTC)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


@report_app.command("retries")
def report_retries_command(
    from_: str = typer.Option(..., "--from", help="First day (UTC), YYYY-MM-DD."),
    to: str = typer.Option(..., "--to", help="Last day (UTC), YYYY-MM-DD, included."),
    out: Path = typer.Option(Path("var/reports"), "--out", help="Directory for HTML and CSV."),
) -> None:
    """Recovery rate of failed payments (first failure FROM..TO), by decline code, attempt
    and channel: writes HTML and CSV."""
    from paywindow.clock import SystemClock
    from paywindow.retries.report import recovery_report, write_recovery_report

    start, end = _day(from_), _day(to) + timedelta(days=1)
    if end <= start:
        raise typer.BadParameter("--to is before --from")
    with resources() as res:
        report = recovery_report(res.engine, start, end)
        html, csv_path = write_recovery_report(report, out, res.reports_dir, SystemClock().now())
    console.print(
        f"recovery {report.rate:.1%} ({report.recovered}/{report.failed}); "
        f"without retries {report.rate_without_retries:.1%}"
    )
    console.print(f"wrote {html} and {csv_path}")
