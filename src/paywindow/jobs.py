"""One function per deployment and command: what a run does, given its resources and a clock.

Prefect tasks, the CLI and the demo all call these, so the demo exercises exactly what the
deployments run. Each returns a plain summary (the task logs it, the CLI prints it). None of
them reads a setting or builds a client: :class:`~paywindow.resources.Resources` has them.

=====================  ==========================================  ===========================
job                    deployment                                  command
=====================  ==========================================  ===========================
expire_windows         ``expire-windows`` (every minute)           ``paywindow windows enforce``
process_events         ``process-events`` (every 5 minutes)        ``paywindow events process``
backfill_events        ``backfill-events`` (ad hoc)                ``paywindow events backfill``
resync_orders          ``resync-orders`` (ad hoc)                  ``paywindow orders resync``
schedule_retries       ``schedule-retries`` (every 5 minutes)      —
retry_order            (support; ``POST /v1/orders/{id}/retry``)   ``paywindow retry ORDER``
render_receipts        ``render-receipts`` (continuous)            ``paywindow receipts run``
render_due_receipts    ``backfill-receipts`` (ad hoc)              ``paywindow receipts render``
sync_ledger            ``reconcile-daily``, ``reconcile-range``    ``paywindow ledger sync``
reconcile_period       ``reconcile-daily``, ``reconcile-range``    ``paywindow reconcile``
check_health           ``check-health`` (every 10 minutes)         ``paywindow alerts check``
deliver_notifications  ``deliver-notifications`` (continuous)      ``paywindow notifications
                                                                   deliver``
=====================  ==========================================  ===========================
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from paywindow.clock import Clock
from paywindow.errors import Transient
from paywindow.resources import Resources

log = logging.getLogger(__name__)

__all__ = [
    "backfill_events",
    "check_health",
    "deliver_notifications",
    "expire_windows",
    "process_events",
    "reconcile_period",
    "render_due_receipts",
    "render_receipts",
    "resync_orders",
    "retry_order",
    "schedule_retries",
    "sync_ledger",
]


def expire_windows(
    res: Resources,
    clock: Clock,
    *,
    horizon: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    max_nap: float = 1.0,
    on_closed: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Backstop, close overdue windows, close each upcoming one on time for ``horizon``
    seconds, then tell Stripe and refund late payments. Returns counts and the lateness of
    the latest timed close.

    ``sleep`` and ``max_nap`` are how the timer waits (the demo moves a manual clock);
    ``on_closed`` hears of each window the timer closed, before Stripe is told."""
    from paywindow.inbox import backstop_sweep, process_due
    from paywindow.payments import (
        DeadlineTimer,
        close_overdue,
        expire_stripe_sessions,
        refund_late_payments,
    )

    engine, client = res.engine, res.stripe
    synced = backstop_sweep(engine, client, clock.now())
    if synced:
        process_due(engine, clock.now())
    overdue = close_overdue(engine, clock.now())
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="expire-session") as stripe_pool:

        def tell_stripe(order_id: str) -> None:
            if on_closed is not None:
                on_closed(order_id)
            stripe_pool.submit(
                expire_stripe_sessions, engine, client, clock.now(), order_ids=[order_id]
            )

        timer = DeadlineTimer(engine, clock, sleep, on_closed=tell_stripe, max_nap=max_nap)
        timed = timer.run(clock.now() + timedelta(seconds=horizon))
    sessions = expire_stripe_sessions(engine, client, clock.now())
    refunded = refund_late_payments(engine, client, clock.now())
    lateness = [(closed - deadline).total_seconds() for _, deadline, closed in timed]
    return {
        "backstop_events": synced,
        "closed_overdue": len(overdue),
        "closed_on_time": len(timed),
        "max_lateness_s": max(lateness, default=0.0),
        "sessions_expired": sessions,
        "late_refunds": len(refunded),
    }


def process_events(res: Resources, clock: Clock, *, limit: int = 10_000) -> dict[str, int]:
    """Apply every recorded event that is due (what ``serve`` does continuously)."""
    from paywindow.inbox import process_due

    report = process_due(
        res.engine, clock.now(), max_attempts=res.settings.processor_max_attempts, limit=limit
    )
    return dict(report.counts)


def backfill_events(res: Resources, clock: Clock, *, since: datetime) -> dict[str, Any]:
    """Record and apply every Stripe event since ``since`` that the log lacks."""
    from paywindow import inbox

    return asdict(inbox.backfill_events(res.engine, res.stripe, since, clock.now()))


def resync_orders(
    res: Resources, clock: Clock, *, start: datetime, end: datetime
) -> dict[str, Any]:
    """Re-read at Stripe the unsettled orders created in [start, end)."""
    from paywindow import inbox

    return asdict(inbox.resync_orders(res.engine, res.stripe, start, end, clock.now()))


def schedule_retries(res: Resources, clock: Clock) -> dict[str, Any]:
    """Open plans for new failures, run every due attempt, close finished plans."""
    from paywindow.retries import run_retries

    return run_retries(res.engine, res.stripe, res.retries, clock.now()).as_dict()


def retry_order(res: Resources, clock: Clock, order_id: str) -> dict[str, Any]:
    """Run the order's next retry now (support), within the plan's limits."""
    from paywindow.retries import retry_now

    return retry_now(res.engine, res.stripe, order_id, res.retries, clock.now())


def render_receipts(
    res: Resources,
    clock: Clock,
    *,
    max_runtime: float | None = None,
    workers: int = 0,
    stop: threading.Event | None = None,
    on_start: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Issue and render receipts continuously on a warm process pool (one process per core
    unless ``workers``) until ``stop`` is set or ``max_runtime`` seconds have passed."""
    from paywindow.receipts import RenderPool

    with RenderPool(res.reports_dir, workers or res.settings.receipts_workers) as pool:
        pool.warm_up()
        if on_start is not None:
            on_start(pool.workers)
        report = res.receipts.run(
            clock,
            pool.submit,
            slots=pool.workers * 2,
            stop=stop or threading.Event(),
            max_runtime=max_runtime,
        )
    return _receipt_counts(report)


def render_due_receipts(res: Resources, clock: Clock, *, limit: int = 10_000) -> dict[str, int]:
    """Issue and render everything due now in this process, then return."""
    from paywindow.receipts import Renderer, inline

    report = res.receipts.run_once(clock, inline(Renderer(res.reports_dir)), limit=limit)
    return _receipt_counts(report)


def _receipt_counts(report: Any) -> dict[str, int]:
    return {
        "issued": report.issued,
        "stored": report.stored,
        "adopted": report.adopted,
        "failed": report.failed,
    }


def sync_ledger(res: Resources, clock: Clock, *, since: datetime | None = None) -> dict[str, int]:
    """Pull Stripe's ledger into Parquet from each cursor (or from ``since``)."""
    from paywindow import reconcile

    report = reconcile.sync_ledger(
        res.engine,
        res.stripe,
        res.settings.data_dir,
        now=clock.now(),
        overlap=res.settings.reconcile_sync_overlap,
        since=since,
    )
    return dict(report.rows)


def reconcile_period(
    res: Resources,
    clock: Clock,
    *,
    first: date,
    last: date,
    out_dir: Path | None = None,
    pdf: bool = True,
) -> dict[str, Any]:
    """Reconcile ``first``..``last`` (UTC days), store the findings, write the reports.

    Returns the summary, the markdown summary, the totals per currency (formatted) and the
    report files; ``signal`` is the findings alert to raise, if any.
    """
    from paywindow.health import findings_signal
    from paywindow.reconcile import (
        TOTAL_COLUMNS,
        day_range,
        format_amount,
        markdown_summary,
        reconcile,
        write_reports,
    )

    period_from, period_to = day_range(first, last)
    now = clock.now()
    result = reconcile(
        res.engine,
        res.settings.data_dir,
        res.sql_dir / "reconcile",
        period_from=period_from,
        period_to=period_to,
        as_of=now,
        now=now,
        slas=res.slas,
        memory_limit=res.settings.reconcile_duckdb_memory,
        threads=res.settings.reconcile_duckdb_threads,
    )
    out = out_dir or res.settings.data_dir / "reports"
    files = write_reports(result, res.reports_dir / "reconcile", out, pdf=pdf)
    totals = [
        {"currency": row["currency"].upper()}
        | {label: format_amount(row[key], row["currency"]) for key, label in TOTAL_COLUMNS}
        for row in result.totals
    ]
    paths = {"html": files.html, "pdf": files.pdf, "csv": files.csv}
    return {
        "summary": result.summary(),
        "markdown": markdown_summary(result),
        "totals": totals,
        "files": {kind: str(path) for kind, path in paths.items() if path is not None},
        "signal": findings_signal(result.summary()),
    }


def check_health(res: Resources, clock: Clock) -> list[Any]:
    """The alert conditions that hold now (:class:`paywindow.health.Signal`)."""
    from paywindow.health import health_signals

    return health_signals(
        res.engine,
        clock.now(),
        res.settings.alerts_receipt_pending_after,
        notify_backlog_after=res.settings.alerts_notify_backlog_after,
    )


def deliver_notifications(
    res: Resources,
    clock: Clock,
    *,
    max_runtime: float | None = None,
    stop: threading.Event | None = None,
    once: bool = False,
) -> dict[str, Any]:
    """Deliver the outbox to the marketplace's endpoints: one pass (``once``), or pass after
    pass until ``stop`` is set or ``max_runtime`` seconds have passed. Returns the totals."""
    from paywindow.notify import Relay

    stop = stop or threading.Event()
    deadline = None if max_runtime is None else time.monotonic() + max_runtime
    totals: dict[str, Any] = {}
    with Relay(res.engine, clock, config=res.relay) as relay:
        while True:
            try:
                report = relay.run_once().as_dict()
            except (Transient, DBAPIError) as exc:  # the database away for a moment: go on
                log.warning("relay pass failed: %s: %s", type(exc).__name__, exc)
                if once or stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                    raise
                stop.wait(res.settings.notify_poll_interval * 5)
                continue
            for key, value in report.items():
                totals[key] = totals.get(key, 0 if isinstance(value, int) else []) + value
            if once or stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                return totals
            if not report["sequenced"] and not report["delivered"] and not report["failed"]:
                stop.wait(res.settings.notify_poll_interval)
