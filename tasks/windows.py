"""Prefect task around one window-enforcement run; retried only for transient failures."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task

from paywindow.clock import SystemClock
from paywindow.errors import GatewayUnavailable, StoreUnavailable
from paywindow.jobs import enforce_windows
from paywindow.resources import engine_from, stripe_from
from paywindow.settings import load_settings
from tasks.observe import start_metrics
from tasks.policy import retry_only

_TRANSIENT = (StoreUnavailable, GatewayUnavailable)

_transient = retry_only(*_TRANSIENT)


@task(retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_transient)
def enforce_payment_windows(horizon: float) -> dict[str, Any]:
    """Close overdue and upcoming windows for ``horizon`` seconds, on time."""
    settings = load_settings()
    start_metrics(settings)
    engine = engine_from(settings)
    try:
        summary = enforce_windows(engine, stripe_from(settings), SystemClock(), horizon=horizon)
    finally:
        engine.dispose()
    get_run_logger().info("expire-windows: %s", summary)
    return summary
