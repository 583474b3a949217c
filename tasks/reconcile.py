"""Prefect tasks around reconciliation: sync the ledger, reconcile a period, publish the summary.

Only transient errors (Stripe or the database unavailable) are retried.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from paywindow import jobs
from paywindow.clock import SystemClock
from paywindow.settings import Settings
from tasks._resources import TASK_POLICY, task_resources
from tasks.observe import emit_signal


@task(retries=3, retry_delay_seconds=[10, 60, 300], **TASK_POLICY)
def sync_ledger_task(
    since: datetime | None = None, settings: Settings | None = None
) -> dict[str, int]:
    """Pull Stripe's ledger into Parquet from each cursor (or ``since``)."""
    with task_resources(settings) as res:
        return jobs.sync_ledger(res, SystemClock(), since=since)


@task(retries=2, retry_delay_seconds=30, **TASK_POLICY)
def reconcile_period_task(
    first: date, last: date, out_dir: Path | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Reconcile ``first``..``last`` (UTC days), store the findings, write the reports."""
    with task_resources(settings) as res:
        outcome = jobs.reconcile_period(res, SystemClock(), first=first, last=last, out_dir=out_dir)
    signal = outcome.pop("signal")
    if signal is not None:
        emit_signal(signal)
    return outcome


@task(**TASK_POLICY)
def publish_summary_task(outcome: dict[str, Any], key: str) -> None:
    """Show the run's summary and totals in the Prefect UI (markdown and table artifacts)."""
    files = outcome["files"]
    links = f"\n\nReports: `{files['html']}`, `{files['pdf']}`, findings `{files['csv']}`\n"
    create_markdown_artifact(outcome["markdown"] + links, key=key, description="Reconciliation")
    create_table_artifact(outcome["totals"], key=f"{key}-totals", description="Totals")
