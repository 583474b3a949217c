"""Prefect task behind ``check-health``: evaluate the alert conditions and emit what holds."""

from __future__ import annotations

from prefect import get_run_logger, task

from paywindow.clock import SystemClock
from paywindow.health import health_signals
from paywindow.resources import engine_from
from paywindow.settings import load_settings
from tasks.observe import emit_signal, start_metrics


@task(retries=2, retry_delay_seconds=[5, 30])
def emit_health_signals() -> list[str]:
    """Emit ``paywindow.events.failing`` / ``paywindow.receipts.pending_too_long`` when they
    hold; return the events emitted."""
    settings = load_settings()
    start_metrics(settings)
    engine = engine_from(settings)
    try:
        signals = health_signals(engine, SystemClock().now(), settings.alerts_receipt_pending_after)
    finally:
        engine.dispose()
    for signal in signals:
        emit_signal(signal)
        get_run_logger().warning("%s: %s", signal.event, signal.payload)
    return [signal.event for signal in signals]
