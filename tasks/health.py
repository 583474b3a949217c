"""Prefect task behind ``check-health``: evaluate the alert conditions and emit what holds."""

from __future__ import annotations

from prefect import get_run_logger, task

from paywindow import jobs
from paywindow.clock import SystemClock
from paywindow.settings import Settings
from tasks._resources import TASK_POLICY, task_resources
from tasks.observe import emit_signal


@task(retries=2, retry_delay_seconds=[5, 30], **TASK_POLICY)
def emit_health_signals(settings: Settings | None = None) -> list[str]:
    """Emit ``paywindow.events.failing`` / ``paywindow.receipts.pending_too_long`` / ... when
    they hold; return the events emitted."""
    with task_resources(settings) as res:
        signals = jobs.check_health(res, SystemClock())
    for signal in signals:
        emit_signal(signal)
        get_run_logger().warning("%s: %s", signal.event, signal.payload)
    return [signal.event for signal in signals]
