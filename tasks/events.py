"""Prefect tasks around the event log: the backstop sweep and the backfills."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from prefect import get_run_logger, task

from paywindow.clock import SystemClock, utc
from paywindow.errors import GatewayUnavailable, StoreUnavailable
from paywindow.inbox.backfill import backfill_events, resync_orders
from paywindow.inbox.processor import process_due
from paywindow.resources import engine_from, stripe_from
from paywindow.settings import load_settings
from tasks.observe import start_metrics
from tasks.policy import retry_only

_TRANSIENT = (StoreUnavailable, GatewayUnavailable)

_transient = retry_only(*_TRANSIENT)


@task(retries=3, retry_delay_seconds=[5, 30, 120], retry_condition_fn=_transient)
def apply_due_events(limit: int) -> dict[str, int]:
    """Apply every recorded event that is due (what ``serve`` does continuously)."""
    settings = load_settings()
    start_metrics(settings)
    engine = engine_from(settings)
    try:
        report = process_due(
            engine, SystemClock().now(), max_attempts=settings.processor_max_attempts, limit=limit
        )
    finally:
        engine.dispose()
    get_run_logger().info("process-events: %s", dict(report.counts))
    return dict(report.counts)


@task(retries=3, retry_delay_seconds=[5, 30, 120], retry_condition_fn=_transient)
def pull_stripe_events(since: datetime) -> dict[str, Any]:
    """Record and apply every Stripe event since ``since`` that the log lacks."""
    settings = load_settings()
    start_metrics(settings)
    engine = engine_from(settings)
    try:
        report = backfill_events(engine, stripe_from(settings), utc(since), SystemClock().now())
    finally:
        engine.dispose()
    get_run_logger().info("backfill-events: %s", report)
    return asdict(report)


@task(retries=3, retry_delay_seconds=[5, 30, 120], retry_condition_fn=_transient)
def reread_orders(start: datetime, end: datetime) -> dict[str, Any]:
    """Re-read at Stripe the unsettled orders created in [start, end)."""
    settings = load_settings()
    start_metrics(settings)
    engine = engine_from(settings)
    try:
        report = resync_orders(
            engine, stripe_from(settings), utc(start), utc(end), SystemClock().now()
        )
    finally:
        engine.dispose()
    get_run_logger().info("resync-orders: %s", report)
    return asdict(report)
