"""Prefect tasks around receipts: the continuous renderer and a one-shot pass.

Each wraps one call into ``paywindow.receipts``. Per-receipt faults (S3/KMS down, template
errors) are handled inside the domain (kept on the job, retried with backoff); the tasks retry
only when the whole call failed for a transient reason.
"""

from __future__ import annotations

import threading

from botocore.exceptions import EndpointConnectionError
from prefect import get_run_logger, task

from paywindow.clock import SystemClock
from paywindow.errors import StoreUnavailable
from paywindow.paths import reports_dir
from paywindow.receipts.pool import RenderPool, inline
from paywindow.receipts.render import Renderer
from paywindow.errors import ObjectStoreUnavailable
from paywindow.receipts.wiring import service_from_settings
from paywindow.settings import load_settings
from paywindow.store import make_engine
from tasks.observe import start_metrics
from tasks.policy import retry_only

_TRANSIENT = (StoreUnavailable, ObjectStoreUnavailable, EndpointConnectionError)

_transient = retry_only(*_TRANSIENT)


@task(retries=3, retry_delay_seconds=[5, 30, 120], retry_condition_fn=_transient)
def render_continuously(max_runtime: float, workers: int = 0) -> dict[str, int]:
    """Run the renderer for ``max_runtime`` seconds on every core; return its counts."""
    settings = load_settings()
    start_metrics(settings)
    engine = make_engine(settings.database_url, busy_timeout=settings.db_busy_timeout)
    try:
        service = service_from_settings(settings, engine)
        with RenderPool(reports_dir(settings), workers or settings.receipts_workers) as pool:
            pool.warm_up()
            get_run_logger().info("rendering receipts on %d processes", pool.workers)
            report = service.run(
                SystemClock(),
                pool.submit,
                slots=pool.workers * 2,
                stop=threading.Event(),
                max_runtime=max_runtime,
            )
    finally:
        engine.dispose()
    return {"issued": report.issued, "stored": report.stored, "failed": report.failed}


@task(retries=3, retry_delay_seconds=[5, 30, 120], retry_condition_fn=_transient)
def render_due(limit: int = 10_000) -> dict[str, int]:
    """Issue and render everything due now in this process, then return."""
    settings = load_settings()
    start_metrics(settings)
    engine = make_engine(settings.database_url, busy_timeout=settings.db_busy_timeout)
    try:
        service = service_from_settings(settings, engine)
        report = service.run_once(
            SystemClock(), inline(Renderer(reports_dir(settings))), limit=limit
        )
    finally:
        engine.dispose()
    return {"issued": report.issued, "stored": report.stored, "failed": report.failed}
