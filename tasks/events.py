"""Prefect tasks around the event log: the backstop sweep and the backfills."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import get_run_logger, task

from paywindow import jobs
from paywindow.clock import SystemClock, utc
from paywindow.settings import Settings
from tasks._resources import TASK_POLICY, task_resources


@task(retries=3, retry_delay_seconds=[5, 30, 120], **TASK_POLICY)
def apply_due_events(limit: int, settings: Settings | None = None) -> dict[str, int]:
    """Apply every recorded event that is due (what ``serve`` does continuously)."""
    with task_resources(settings) as res:
        counts = jobs.process_events(res, SystemClock(), limit=limit)
    get_run_logger().info("process-events: %s", counts)
    return counts


@task(retries=3, retry_delay_seconds=[5, 30, 120], **TASK_POLICY)
def pull_stripe_events(since: datetime, settings: Settings | None = None) -> dict[str, Any]:
    """Record and apply every Stripe event since ``since`` that the log lacks."""
    with task_resources(settings) as res:
        report = jobs.backfill_events(res, SystemClock(), since=utc(since))
    get_run_logger().info("backfill-events: %s", report)
    return report


@task(retries=3, retry_delay_seconds=[5, 30, 120], **TASK_POLICY)
def reread_orders(
    start: datetime, end: datetime, settings: Settings | None = None
) -> dict[str, Any]:
    """Re-read at Stripe the unsettled orders created in [start, end)."""
    with task_resources(settings) as res:
        report = jobs.resync_orders(res, SystemClock(), start=utc(start), end=utc(end))
    get_run_logger().info("resync-orders: %s", report)
    return report
