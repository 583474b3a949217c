"""Deployment ``reconcile-daily``: sync Stripe's ledger, reconcile yesterday (UTC), publish."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from prefect import flow
from tasks.reconcile import publish_summary_task, reconcile_period_task, sync_ledger_task

from paywindow.settings import Settings


@flow(name="reconcile-daily", log_prints=True)
def reconcile_daily(
    day: date | None = None, out_dir: str | None = None, settings: Settings | None = None
) -> dict[str, object]:
    """Reconcile one UTC day (yesterday by default) after syncing the ledger."""
    day = day or (datetime.now(UTC) - timedelta(days=1)).date()
    sync_ledger_task(settings=settings)
    outcome = reconcile_period_task(day, day, Path(out_dir) if out_dir else None, settings)
    publish_summary_task(outcome, key="reconcile-daily")
    return outcome["summary"]  # type: ignore[no-any-return]


if __name__ == "__main__":
    reconcile_daily()
