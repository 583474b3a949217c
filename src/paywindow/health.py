"""Alerts: the documented set and the conditions that raise them, as plain queries.

Design:
- Five alerts (:data:`ALERTS`), each a Prefect automation named ``paywindow: ...``, each with
  a runbook section in docs/operations.md. *Failed flow runs* trigger on Prefect's own
  ``prefect.flow-run.Failed`` / ``Crashed`` events for paywindow's deployments. The domain
  conditions trigger on events paywindow emits: the ``check-health`` deployment evaluates
  :func:`health_signals` (receipts pending too long, events failing processing, server errors:
  any 500 or a run of 503s, from the ``server_errors`` table the web shell keeps) and the
  reconciliation tasks :func:`findings_signal`; the tasks layer emits what they return as
  Prefect events, so nothing here imports Prefect at module level and the checks are plain
  functions of the database and ``now``.
- The Prefect automations built from :data:`ALERTS` live with the other Prefect code, in
  ``tasks/automations.py`` (installed by ``paywindow alerts install``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from paywindow.store.tables import event_log, orders, server_errors

__all__ = [
    "ALERTS",
    "DEPLOYMENTS",
    "SERVER_ERRORS",
    "Alert",
    "Signal",
    "findings_signal",
    "health_signals",
]

PREFIX = "paywindow: "
EVENTS_FAILING = "paywindow.events.failing"
RECEIPTS_PENDING = "paywindow.receipts.pending_too_long"
RECONCILE_FINDINGS = "paywindow.reconcile.findings"
SERVER_ERRORS = "paywindow.http.server_errors"
PAYMENTS_HELD = "paywindow.payments.held_for_review"
NOTIFICATIONS_BACKLOG = "paywindow.notifications.backlog"
NOTIFICATIONS_DEAD = "paywindow.notifications.dead"

#: paywindow's deployments (prefect.yaml); a failed or crashed run of any of them alerts.
DEPLOYMENTS = (
    "expire-windows",
    "process-events",
    "backfill-events",
    "resync-orders",
    "schedule-retries",
    "reconcile-daily",
    "reconcile-range",
    "render-receipts",
    "backfill-receipts",
    "check-health",
    "deliver-notifications",
)


@dataclass(frozen=True)
class Alert:
    """One alert: the events that raise it and what it means (the runbook has the rest)."""

    name: str
    meaning: str
    events: tuple[str, ...]
    match: dict[str, str] = field(default_factory=dict)
    match_related: dict[str, str | list[str]] = field(default_factory=dict)
    runbook: str = ""


ALERTS = (
    Alert(
        name=PREFIX + "flow run failed",
        meaning="A run of a paywindow deployment failed or crashed.",
        events=("prefect.flow-run.Failed", "prefect.flow-run.Crashed"),
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={
            "prefect.resource.role": "deployment",
            "prefect.resource.name": list(DEPLOYMENTS),
        },
        runbook="flow-run-failed",
    ),
    Alert(
        name=PREFIX + "receipts pending too long",
        meaning="Paid orders have had no stored receipt for longer than the threshold.",
        events=(RECEIPTS_PENDING,),
        match={"prefect.resource.id": "paywindow.receipts"},
        runbook="receipts-pending-too-long",
    ),
    Alert(
        name=PREFIX + "events failing processing",
        meaning="Recorded Stripe events fail to apply to their orders.",
        events=(EVENTS_FAILING,),
        match={"prefect.resource.id": "paywindow.events"},
        runbook="events-failing-processing",
    ),
    Alert(
        name=PREFIX + "reconciliation findings",
        meaning="A reconciliation run left open findings (money that does not match).",
        events=(RECONCILE_FINDINGS,),
        match={"prefect.resource.id": "paywindow.reconcile"},
        runbook="reconciliation-findings",
    ),
    Alert(
        name=PREFIX + "server errors",
        meaning="The web server answered 500 (a bug) or a run of 503s (store or Stripe out).",
        events=(SERVER_ERRORS,),
        match={"prefect.resource.id": "paywindow.http"},
        runbook="server-errors",
    ),
    Alert(
        name=PREFIX + "payments held for review",
        meaning="A payment that is not its order's (session, amount or currency) holds orders.",
        events=(PAYMENTS_HELD,),
        match={"prefect.resource.id": "paywindow.payments"},
        runbook="payments-held-for-review",
    ),
    Alert(
        name=PREFIX + "notifications backlog",
        meaning="A notification to the marketplace has waited longer than the threshold.",
        events=(NOTIFICATIONS_BACKLOG,),
        match={"prefect.resource.id": "paywindow.notifications"},
        runbook="notifications-backlog",
    ),
    Alert(
        name=PREFIX + "notifications dead",
        meaning="Notifications gave up after every retry, or an endpoint was disabled for "
        "failing: the marketplace has not heard of these decisions.",
        events=(NOTIFICATIONS_DEAD,),
        match={"prefect.resource.id": "paywindow.notifications"},
        runbook="notifications-dead",
    ),
)


# --- conditions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    """An alert condition that holds: the event to emit, on which resource, with what."""

    event: str
    resource: str
    payload: dict[str, Any]


def failing_events(engine: Engine, *, limit: int = 20) -> tuple[int, list[str]]:
    """Events whose processing failed (retrying or given up): (count, the oldest ids)."""
    failed = event_log.c.status == "failed"
    with engine.connect().execution_options(read_only=True) as conn:
        count = conn.execute(select(func.count()).where(failed)).scalar_one()
        ids = conn.execute(
            select(event_log.c.event_id).where(failed).order_by(event_log.c.id).limit(limit)
        ).scalars()
        return int(count), list(ids)


def held_orders(engine: Engine, *, limit: int = 20) -> tuple[int, list[dict[str, str]]]:
    """Orders held in ``payment_mismatch``: (count, the oldest with their reasons)."""
    held = orders.c.state == "payment_mismatch"
    with engine.connect().execution_options(read_only=True) as conn:
        count = conn.execute(select(func.count()).where(held)).scalar_one()
        rows = conn.execute(
            select(orders.c.id, orders.c.held_reason)
            .where(held)
            .order_by(orders.c.updated_at)
            .limit(limit)
        ).all()
    return int(count), [{"order_id": r.id, "reason": r.held_reason or ""} for r in rows]


def recent_server_errors(engine: Engine, since: datetime, *, limit: int = 10) -> dict[str, Any]:
    """5xx answers at or after ``since``: counts by status and route, the latest 500s' ids."""
    recent = server_errors.c.at >= since
    with engine.connect().execution_options(read_only=True) as conn:
        grouped = conn.execute(
            select(server_errors.c.status, server_errors.c.route, func.count())
            .where(recent)
            .group_by(server_errors.c.status, server_errors.c.route)
        ).all()
        latest = conn.execute(
            select(server_errors.c.correlation_id)
            .where(recent, server_errors.c.status == 500)
            .order_by(server_errors.c.at.desc(), server_errors.c.id.desc())
            .limit(limit)
        ).scalars()
        ids = [str(cid) for cid in latest if cid]
    by_status: dict[str, int] = {}
    by_route: dict[str, int] = {}
    for status, route, count in grouped:
        by_status[str(status)] = by_status.get(str(status), 0) + int(count)
        by_route[str(route)] = by_route.get(str(route), 0) + int(count)
    return {"by_status": by_status, "by_route": by_route, "correlation_ids": ids}


def health_signals(
    engine: Engine,
    now: datetime,
    receipt_pending_after: timedelta,
    *,
    server_errors_within: timedelta = timedelta(minutes=10),
    unavailable_threshold: int = 20,
    notify_backlog_after: timedelta = timedelta(minutes=10),
) -> list[Signal]:
    """The domain alert conditions that hold at ``now`` (what ``check-health`` emits).

    Server errors alert on any 500 within ``server_errors_within`` (the check's interval:
    a bug is always news) or at least ``unavailable_threshold`` other 5xx answers (a blip of
    503s is what Stripe's and clients' retries are for; a run of them is an outage).
    """
    from paywindow.receipts import receipts_overdue

    signals = []
    count, ids = failing_events(engine)
    if count:
        signals.append(
            Signal(EVENTS_FAILING, "paywindow.events", {"failed": count, "event_ids": ids})
        )
    overdue, orders = receipts_overdue(engine, now, receipt_pending_after)
    if overdue:
        payload = {
            "orders": overdue,
            "order_ids": orders,
            "older_than_s": receipt_pending_after.total_seconds(),
        }
        signals.append(Signal(RECEIPTS_PENDING, "paywindow.receipts", payload))
    errors = recent_server_errors(engine, now - server_errors_within)
    bugs = errors["by_status"].get("500", 0)
    if bugs or sum(errors["by_status"].values()) - bugs >= unavailable_threshold:
        payload = {**errors, "within_s": server_errors_within.total_seconds()}
        signals.append(Signal(SERVER_ERRORS, "paywindow.http", payload))
    held, examples = held_orders(engine)
    if held:
        payload = {"orders": held, "examples": examples}
        signals.append(Signal(PAYMENTS_HELD, "paywindow.payments", payload))
    signals.extend(notification_signals(engine, now, notify_backlog_after))
    return signals


def notification_signals(engine: Engine, now: datetime, backlog_after: timedelta) -> list[Signal]:
    """A backlog older than ``backlog_after``; dead deliveries or endpoints the relay disabled."""
    from paywindow.notify import backlog

    found = backlog(engine, now)
    signals = []
    if found["pending"] and found["oldest_pending_s"] > backlog_after.total_seconds():
        payload = {**found, "older_than_s": backlog_after.total_seconds()}
        signals.append(Signal(NOTIFICATIONS_BACKLOG, "paywindow.notifications", payload))
    if found["dead"] or found["endpoints_disabled"]:
        signals.append(Signal(NOTIFICATIONS_DEAD, "paywindow.notifications", found))
    return signals


def findings_signal(summary: dict[str, Any]) -> Signal | None:
    """The reconciliation alert for a run summary with open findings, else None."""
    if not summary.get("open"):
        return None
    keys = ("run_id", "period_from", "period_to", "findings", "open", "by_kind")
    return Signal(RECONCILE_FINDINGS, "paywindow.reconcile", {k: summary.get(k) for k in keys})
