"""Prefect tasks around reconciliation: sync the ledger, reconcile a period, publish the summary.

Each task wraps one call into ``paywindow.reconcile``; only transient errors (Stripe or the
database unavailable) are retried.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from paywindow.errors import GatewayUnavailable, StoreUnavailable
from paywindow.gateway import make_stripe_client
from paywindow.health import findings_signal
from paywindow.paths import reports_dir, sql_dir
from paywindow.reconcile.amounts import format_amount
from paywindow.reconcile.matching import Slas
from paywindow.reconcile.report import TOTAL_COLUMNS, markdown_summary, write_reports
from paywindow.reconcile.run import day_range, reconcile
from paywindow.reconcile.sync import sync_ledger
from paywindow.settings import load_settings
from paywindow.store import make_engine
from tasks.observe import emit_signal, start_metrics
from tasks.policy import retry_only

_TRANSIENT = (GatewayUnavailable, StoreUnavailable)

_transient = retry_only(*_TRANSIENT)


@task(retries=3, retry_delay_seconds=[10, 60, 300], retry_condition_fn=_transient)
def sync_ledger_task(since: datetime | None = None) -> dict[str, int]:
    """Pull Stripe's ledger into Parquet from each cursor (or ``since``)."""
    settings = load_settings()
    start_metrics(settings)
    key = settings.stripe_api_key.get_secret_value() if settings.stripe_api_key else None
    client = make_stripe_client(key, settings.stripe_api_base)
    engine = make_engine(settings.database_url, busy_timeout=settings.db_busy_timeout)
    try:
        report = sync_ledger(
            engine,
            client,
            settings.data_dir,
            now=datetime.now(UTC),
            overlap=settings.reconcile_sync_overlap,
            since=since,
        )
    finally:
        engine.dispose()
    return report.rows


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=_transient)
def reconcile_period_task(first: date, last: date, out_dir: Path | None = None) -> dict[str, Any]:
    """Reconcile ``first``..``last`` (UTC days), store the findings, write the reports."""
    settings = load_settings()
    start_metrics(settings)
    engine = make_engine(settings.database_url, busy_timeout=settings.db_busy_timeout)
    period_from, period_to = day_range(first, last)
    now = datetime.now(UTC)
    try:
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
    finally:
        engine.dispose()
    signal = findings_signal(result.summary())
    if signal is not None:
        emit_signal(signal)
    templates = reports_dir(settings) / "reconcile"
    files = write_reports(result, templates, out_dir or settings.data_dir / "reports")
    totals = [
        {"currency": row["currency"].upper()}
        | {label: format_amount(row[key], row["currency"]) for key, label in TOTAL_COLUMNS}
        for row in result.totals
    ]
    return {
        "summary": result.summary(),
        "markdown": markdown_summary(result),
        "totals": totals,
        "files": {"html": str(files.html), "pdf": str(files.pdf), "csv": str(files.csv)},
    }


@task
def publish_summary_task(outcome: dict[str, Any], key: str) -> None:
    """Show the run's summary and totals in the Prefect UI (markdown and table artifacts)."""
    files = outcome["files"]
    links = f"\n\nReports: `{files['html']}`, `{files['pdf']}`, findings `{files['csv']}`\n"
    create_markdown_artifact(outcome["markdown"] + links, key=key, description="Reconciliation")
    create_table_artifact(outcome["totals"], key=f"{key}-totals", description="Totals")
