"""Prefect task around one window-enforcement run; retried only for transient failures."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task

from paywindow import jobs
from paywindow.clock import SystemClock
from paywindow.settings import Settings
from tasks._resources import TASK_POLICY, task_resources


@task(retries=2, retry_delay_seconds=[2, 10], **TASK_POLICY)
def enforce_payment_windows(horizon: float, settings: Settings | None = None) -> dict[str, Any]:
    """Close overdue and upcoming windows for ``horizon`` seconds, on time."""
    with task_resources(settings) as res:
        summary = jobs.expire_windows(res, SystemClock(), horizon=horizon)
    get_run_logger().info("expire-windows: %s", summary)
    return summary
