"""Prefect task around one run of failed-payment retries; retried only for transient failures.

Stripe errors on a single attempt never fail the task: the domain gives that attempt back and
the next run tries it again. The task retries only when the whole run failed (database or
Stripe unavailable at the start).
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task

from paywindow.cli.retries import retry_policy_from
from paywindow.clock import SystemClock
from paywindow.errors import GatewayUnavailable, StoreUnavailable
from paywindow.resources import engine_from, stripe_from
from paywindow.retries.attempt import run_retries
from paywindow.settings import load_settings
from tasks.observe import start_metrics
from tasks.policy import retry_only

_TRANSIENT = (StoreUnavailable, GatewayUnavailable)

_transient = retry_only(*_TRANSIENT)


@task(retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_transient)
def run_due_retries() -> dict[str, Any]:
    """Open plans for new failures, run every due attempt, close finished plans."""
    settings = load_settings()
    start_metrics(settings)
    engine = engine_from(settings)
    try:
        report = run_retries(
            engine, stripe_from(settings), retry_policy_from(settings), SystemClock().now()
        )
    finally:
        engine.dispose()
    summary = report.as_dict()
    get_run_logger().info("schedule-retries: %s", summary)
    return summary
