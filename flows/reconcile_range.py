"""Deployment ``reconcile-range``: reconcile any range of UTC days, ad hoc (optionally re-sync)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

from prefect import flow
from tasks.reconcile import publish_summary_task, reconcile_period_task, sync_ledger_task

from paywindow.settings import Settings


@flow(name="reconcile-range", log_prints=True)
def reconcile_range(
    first: date,
    last: date,
    sync: bool = True,
    out_dir: str | None = None,
    settings: Settings | None = None,
) -> dict[str, object]:
    """Reconcile ``first``..``last``; with ``sync`` the ledger is re-read from ``first`` on."""
    if sync:
        sync_ledger_task(since=datetime.combine(first, time(), UTC), settings=settings)
    outcome = reconcile_period_task(first, last, Path(out_dir) if out_dir else None, settings)
    publish_summary_task(outcome, key="reconcile-range")
    return outcome["summary"]  # type: ignore[no-any-return]
