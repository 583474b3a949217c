"""``paywindow retry ORDER`` and ``paywindow report retries``: support's manual retry and the
recovery report. ``paywindow.cli.app`` mounts :func:`retry_command` and
:func:`report_retries_command` (or the whole :data:`retry_app`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from paywindow.clock import SystemClock
from paywindow.errors import PaywindowError
from paywindow.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from paywindow.retries.attempt import RetryPolicy

__all__ = ["report_retries_command", "retry_app", "retry_command", "retry_policy_from"]

retry_app = typer.Typer(no_args_is_help=True, help="Failed-payment retries.")
console = Console()
err = Console(stderr=True)


def retry_policy_from(settings: Settings) -> RetryPolicy:
    """The :class:`~paywindow.retries.attempt.RetryPolicy` the settings describe."""
    from paywindow.resources import checkout_policy
    from paywindow.retries.attempt import RetryPolicy

    return RetryPolicy(
        checkout=checkout_policy(settings),
        offsets=tuple(settings.retry_offsets),
        lease=settings.retry_lease,
        batch_size=settings.retry_batch_size,
    )


@contextmanager
def _settings_and_engine() -> Iterator[tuple[Settings, Engine]]:
    from paywindow.resources import engine_from

    try:
        settings = load_settings()
        engine = engine_from(settings)
    except PaywindowError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    try:
        yield settings, engine
    finally:
        engine.dispose()


@retry_app.command("order")
def retry_command(order_id: str = typer.Argument(..., help="The order to retry now.")) -> None:
    """Run ORDER's next retry now (support), within the plan's limits: at most 3, before the
    deadline, never off-session after a hard decline."""
    from paywindow.resources import stripe_from
    from paywindow.retries.attempt import retry_now

    with _settings_and_engine() as (settings, engine):
        try:
            policy = retry_policy_from(settings)
            client = stripe_from(settings)
            result = retry_now(engine, client, order_id, policy, SystemClock().now())
        except PaywindowError as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from exc
    console.print_json(json.dumps(result, default=str))
    if result["outcome"] == "given_back":
        raise typer.Exit(1)


def _day(value: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time(), UTC)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


@retry_app.command("report")
def report_retries_command(
    from_: str = typer.Option(..., "--from", help="First day (UTC), YYYY-MM-DD."),
    to: str = typer.Option(..., "--to", help="Last day (UTC), YYYY-MM-DD, included."),
    out: Path = typer.Option(Path("var/reports"), "--out", help="Directory for HTML and CSV."),
) -> None:
    """Recovery rate of failed payments (first failure FROM..TO), by decline code, attempt
    and channel: writes HTML and CSV."""
    from paywindow.paths import reports_dir
    from paywindow.retries.report import recovery_report, write_recovery_report

    start, end = _day(from_), _day(to) + timedelta(days=1)
    if end <= start:
        raise typer.BadParameter("--to is before --from")
    with _settings_and_engine() as (settings, engine):
        report = recovery_report(engine, start, end)
    templates = reports_dir(settings)
    html, csv_path = write_recovery_report(report, out, templates, SystemClock().now())
    console.print(
        f"recovery {report.rate:.1%} ({report.recovered}/{report.failed}); "
        f"without retries {report.rate_without_retries:.1%}"
    )
    console.print(f"wrote {html} and {csv_path}")
