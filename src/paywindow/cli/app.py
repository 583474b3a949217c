"""The ``paywindow`` command line (Typer). A thin shell: settings in, domain calls, output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from paywindow.clock import SystemClock, utc
from paywindow.errors import ConfigError, NotFound, PaywindowError
from paywindow.settings import Settings, load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="paywindow back office.")
db_app = typer.Typer(no_args_is_help=True, help="The operational database.")
events_app = typer.Typer(no_args_is_help=True, help="Recorded Stripe events.")
orders_app = typer.Typer(no_args_is_help=True, help="Orders.")
windows_app = typer.Typer(no_args_is_help=True, help="The payment window.")
app.add_typer(db_app, name="db")
app.add_typer(events_app, name="events")
app.add_typer(orders_app, name="orders")
app.add_typer(windows_app, name="windows")


def _mount_sub_apps() -> None:
    from paywindow.cli.alerts import alerts_app
    from paywindow.cli.receipts import receipts_app
    from paywindow.cli.reconcile import findings_app, ledger_app, reconcile_command
    from paywindow.cli.retries import report_retries_command, retry_command

    app.add_typer(receipts_app, name="receipts")
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(ledger_app, name="ledger")
    app.add_typer(findings_app, name="findings")
    app.command("reconcile")(reconcile_command)
    app.command("retry")(retry_command)
    report_app = typer.Typer(no_args_is_help=True, help="Finance and operations reports.")
    report_app.command("retries")(report_retries_command)
    app.add_typer(report_app, name="report")


_mount_sub_apps()

console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


@contextmanager
def _database(settings: Settings | None = None) -> Iterator[Engine]:
    """The configured database's engine, disposed when the command ends."""
    from paywindow.store import make_engine

    settings = settings or _settings()
    engine = make_engine(settings.database_url, busy_timeout=settings.db_busy_timeout)
    try:
        yield engine
    finally:
        engine.dispose()


def _fail(exc: PaywindowError, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/] {exc}")
    return typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply schema migrations (creates the schema on a new database)."""
    from paywindow.store import upgrade

    settings = _settings()
    try:
        with _database(settings) as engine:
            upgrade(engine, revision)
    except PaywindowError as exc:
        raise _fail(exc) from exc
    console.print(f"database at {revision}: {settings.database_url.split('@')[-1]}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    processor: bool = typer.Option(True, help="Also apply recorded events in the background."),
) -> None:
    """Run the webhook recorder (POST /webhooks/stripe, GET /healthz) and the event processor."""
    from paywindow.store import check_migrated

    settings = _settings()
    try:
        with _database(settings) as engine:
            check_migrated(engine)
    except PaywindowError as exc:
        raise _fail(exc, 2) from exc
    if not settings.stripe_webhook_secrets:
        err.print(
            "[yellow]warning:[/] PAYWINDOW_STRIPE_WEBHOOK_SECRETS is empty: every webhook gets 503"
        )
    with _database(settings) as engine:
        _serve(settings, engine, host, port, processor)


def _serve(settings: Settings, engine: Engine, host: str, port: int, processor: bool) -> None:
    import uvicorn

    from paywindow.observability import configure_from
    from paywindow.web.app import RecorderConfig, create_app

    configure_from(settings)

    config = RecorderConfig(
        orders=_orders_service(settings, engine),
        engine=engine,
        clock=SystemClock(),
        secrets=settings.webhook_secret_values(),
        tolerance=settings.webhook_tolerance,
        max_body=settings.webhook_max_body,
        run_processor=processor,
        poll_interval=settings.processor_poll_interval,
        max_attempts=settings.processor_max_attempts,
    )
    # log_config=None: uvicorn's own records go through paywindow's JSON, redacting handler.
    # Proxy headers only from the proxies named: uvicorn would trust loopback by default.
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        log_config=None,
        proxy_headers=settings.forwarded_allow_ips is not None,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


def _orders_service(settings: Settings, engine: Engine) -> Any:
    from paywindow.resources import checkout_policy, stripe_from
    from paywindow.web.orders import OrdersService

    if not settings.api_token:
        err.print("[yellow]warning:[/] PAYWINDOW_API_TOKEN is empty: the order API answers 401")
    if not settings.support_token:
        err.print(
            "[yellow]warning:[/] PAYWINDOW_SUPPORT_TOKEN is empty: support routes "
            "(POST /v1/orders/{id}/retry) answer 401"
        )
    return OrdersService(
        engine=engine,
        client=stripe_from(settings) if settings.stripe_api_key else None,
        policy=checkout_policy(settings),
        clock=SystemClock(),
        token=settings.api_token.get_secret_value() if settings.api_token else None,
        support_token=(
            settings.support_token.get_secret_value() if settings.support_token else None
        ),
        max_body=settings.api_max_body,
        receipts=_receipts_service(settings, engine),
    )


def _receipts_service(settings: Settings, engine: Engine) -> Any:
    """The receipt service when an object store is configured (or on AWS with a KMS key)."""
    if not (settings.s3_endpoint_url or settings.receipts_kms_key_id):
        return None
    from paywindow.receipts.wiring import service_from_settings

    return service_from_settings(settings, engine)


@windows_app.command("enforce")
def windows_enforce(
    horizon: float = typer.Option(60.0, help="Seconds to keep closing windows on time."),
) -> None:
    """Close overdue windows, then each one at its deadline for HORIZON seconds (what the
    expire-windows deployment does every minute)."""
    from paywindow.jobs import enforce_windows
    from paywindow.resources import stripe_from

    settings = _settings()
    with _database(settings) as engine:
        summary = enforce_windows(engine, stripe_from(settings), SystemClock(), horizon=horizon)
    console.print(summary)


@events_app.command("process")
def events_process(
    limit: int = typer.Option(1000, help="Most events to apply in one sweep."),
) -> None:
    """Apply every due event once (batch use; `serve` does this continuously)."""
    from paywindow.inbox.processor import process_due

    settings = _settings()
    total: dict[str, int] = {}
    with _database(settings) as engine:
        while True:
            report = process_due(
                engine,
                SystemClock().now(),
                max_attempts=settings.processor_max_attempts,
                limit=limit,
            )
            for status, count in report.counts.items():
                total[status] = total.get(status, 0) + count
            if report.total < limit:
                break
    console.print(total or "no events due")


@events_app.command("replay")
def events_replay(
    event_id: list[str] = typer.Option(None, "--id", help="Event id (repeatable)."),
    failed: bool = typer.Option(False, "--failed", help="Every failed event."),
    since: datetime | None = typer.Option(None, help="Every event received since this time."),
) -> None:
    """Re-apply chosen events now (idempotent)."""
    from paywindow.inbox.processor import process_due, replay

    if not (event_id or failed or since):
        err.print("[red]error:[/] give --id, --failed or --since")
        raise typer.Exit(2)
    settings = _settings()
    now = SystemClock().now()
    with _database(settings) as engine:
        count = replay(
            engine, now, event_ids=event_id, failed=failed, since=utc(since) if since else None
        )
        report = process_due(
            engine, now, max_attempts=settings.processor_max_attempts, limit=10_000
        )
    console.print(f"replayed {count} event(s): {dict(report.counts)}")


@events_app.command("list")
def events_list(
    status: str | None = typer.Option(None, help="pending, applied, ignored or failed."),
    kind: str | None = typer.Option(None, "--type", help="Event type, e.g. charge.refunded."),
    limit: int = typer.Option(50),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recent events, newest first."""
    from paywindow.cli.views import list_events, to_json

    with _database() as engine:
        rows = list_events(engine, status=status, kind=kind, limit=limit)
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

    try:
        with _database() as engine:
            event = show_event(engine, event_id)
    except NotFound as exc:
        raise _fail(exc) from exc
    if as_json:
        sys.stdout.write(to_json(event) + "\n")
        return
    traceback = event.pop("last_traceback")
    console.print_json(to_json(event))
    if traceback:
        console.print(traceback)


@orders_app.command("show")
def orders_show(order_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One order: state, deadline, attempts, failures and every transition."""
    from paywindow.cli.views import show_order, to_json

    try:
        with _database() as engine:
            order = show_order(engine, order_id)
    except NotFound as exc:
        raise _fail(exc) from exc
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


@app.command()
def sandbox(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(12111, help="Port to listen on."),
    state: Path | None = typer.Option(None, help="JSON file that keeps state across restarts."),
) -> None:
    """Run the offline Stripe sandbox (a stateful, wire-compatible Stripe emulator)."""
    from paywindow.sandbox.server import run

    run(host=host, port=port, state_file=state)


@app.command("run")
def run_all(
    port: int = typer.Option(8000, help="Port of the recorder and order API."),
) -> None:
    """Prefect UI + worker + every deployment + recorder/API (+ sandbox and S3 emulator)."""
    from paywindow.cli.devstack import run_stack

    run_stack(console, serve_port=port)


@app.command()
def demo(
    orders: int = typer.Option(500, help="Orders opened during the day."),
    keep: bool = typer.Option(False, "--keep", help="Keep var/demo from the last run."),
    seed: int = typer.Option(7, help="Seed of the buyer population."),
) -> None:
    """A marketplace day on embedded defaults: orders, payments, retries, expiries, receipts,
    reconciliation; the report lands in ./out/."""
    from paywindow.cli.demo import run_demo

    run_demo(console, orders_count=orders, keep=keep, seed=seed)


def main() -> None:
    app()
