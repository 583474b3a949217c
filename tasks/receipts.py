"""Prefect tasks around receipts: the continuous renderer and a one-shot pass.

Per-receipt faults (S3/KMS down, template errors) are handled inside the domain (kept on the
job, retried with backoff); the tasks retry only when the whole call failed for a transient
reason.
"""

from __future__ import annotations

from prefect import get_run_logger, task

from paywindow import jobs
from paywindow.clock import SystemClock
from paywindow.settings import Settings
from tasks._resources import TASK_POLICY, task_resources


@task(retries=3, retry_delay_seconds=[5, 30, 120], **TASK_POLICY)
def render_continuously(
    max_runtime: float, workers: int = 0, settings: Settings | None = None
) -> dict[str, int]:
    """Run the renderer for ``max_runtime`` seconds on every core; return its counts."""

    def started(processes: int) -> None:
        get_run_logger().info("rendering receipts on %d processes", processes)

    with task_resources(settings) as res:
        return jobs.render_receipts(
            res, SystemClock(), max_runtime=max_runtime, workers=workers, on_start=started
        )


@task(retries=3, retry_delay_seconds=[5, 30, 120], **TASK_POLICY)
def render_due(limit: int = 10_000, settings: Settings | None = None) -> dict[str, int]:
    """Issue and render everything due now in this process, then return."""
    with task_resources(settings) as res:
        return jobs.render_due_receipts(res, SystemClock(), limit=limit)
