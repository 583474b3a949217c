"""Prefect task around one run of failed-payment retries; retried only for transient failures.

Stripe errors on a single attempt never fail the task: the domain gives that attempt back and
the next run tries it again. The task retries only when the whole run failed (database or
Stripe unavailable at the start).
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task

from paywindow import jobs
from paywindow.clock import SystemClock
from paywindow.settings import Settings
from tasks._resources import TASK_POLICY, task_resources


@task(retries=2, retry_delay_seconds=[5, 30], **TASK_POLICY)
def run_due_retries(settings: Settings | None = None) -> dict[str, Any]:
    """Open plans for new failures, run every due attempt, close finished plans."""
    with task_resources(settings) as res:
        summary = jobs.schedule_retries(res, SystemClock())
    get_run_logger().info("schedule-retries: %s", summary)
    return summary
