"""Prefect task around the notification relay; retried only for transient failures."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task

from paywindow import jobs
from paywindow.clock import SystemClock
from paywindow.settings import Settings
from tasks._resources import TASK_POLICY, task_resources


@task(retries=3, retry_delay_seconds=[5, 30, 120], **TASK_POLICY)
def deliver_continuously(max_runtime: float, settings: Settings | None = None) -> dict[str, Any]:
    """Deliver notifications for ``max_runtime`` seconds; return the totals."""
    with task_resources(settings) as res:
        totals = jobs.deliver_notifications(res, SystemClock(), max_runtime=max_runtime)
    get_run_logger().info("deliver-notifications: %s", totals)
    return totals
