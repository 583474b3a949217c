"""One run of retries, as the ``schedule-retries`` deployment does every few minutes, and
support's manual retry of one order: claim due attempts under the order's lease, execute each
(:mod:`paywindow.retries.attempt`), count the outcomes."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import stripe
from sqlalchemy import Engine, select

from paywindow.observability import metrics
from paywindow.payments import OrderBusy, order_lease
from paywindow.retries.attempt import RetryOutcome, execute
from paywindow.retries.plans import claim, claim_next_for, due_attempts, sync_plans
from paywindow.retries.policy import RetryPolicy
from paywindow.store.tables import retry_attempts

__all__ = ["RunReport", "retry_now", "run_retries"]

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    opened: int = 0
    closed: int = 0
    executed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    released: int = 0
    skipped: int = 0

    def count(self, outcome: RetryOutcome) -> None:
        key = outcome.value  # plain strings as keys: the summary is serialised
        self.outcomes[key] = self.outcomes.get(key, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "plans_opened": self.opened,
            "plans_closed": self.closed,
            "attempts_executed": self.executed,
            "outcomes": dict(sorted(self.outcomes.items())),
            "given_back": self.released,
            "skipped": self.skipped,
        }


def run_retries(
    engine: Engine,
    client: stripe.StripeClient,
    policy: RetryPolicy,
    now: datetime,
    *,
    worker: str | None = None,
) -> RunReport:
    """One run of the ``schedule-retries`` deployment: sync plans, execute what is due."""
    worker = worker or f"run-{uuid.uuid4().hex[:12]}"
    report = RunReport()
    synced = sync_plans(engine, now, list(policy.offsets))
    report.opened, report.closed = len(synced.opened), len(synced.closed)
    for attempt_id, order_id in due_attempts(engine, now, policy.batch_size):
        try:
            with order_lease(engine, order_id, f"retry run {worker}", now, ttl=policy.lease):
                row = claim(engine, attempt_id, worker, now, policy.lease)
                if row is None:
                    report.skipped += 1  # another run holds it
                    continue
                outcome = execute(engine, client, policy, row, now)
        except OrderBusy:
            report.skipped += 1  # a manual retry or a checkout is talking to Stripe now
            continue
        _observe(row, outcome, manual=False)
        if outcome is None:
            report.released += 1
        else:
            report.executed += 1
            report.count(outcome)
    report.closed += len(sync_plans(engine, now, list(policy.offsets)).closed)
    return report


def retry_now(
    engine: Engine, client: stripe.StripeClient, order_id: str, policy: RetryPolicy, now: datetime
) -> dict[str, Any]:
    """Support's manual retry: run the order's next attempt now, within the same limits.

    Raises :class:`~paywindow.payments.lease.OrderBusy` (a Conflict naming what runs) while
    another retry or a checkout is talking to Stripe about the order.
    """
    sync_plans(engine, now, list(policy.offsets))
    worker = f"manual-{uuid.uuid4().hex[:8]}"
    with order_lease(engine, order_id, f"manual retry {worker}", now, ttl=policy.lease):
        row = claim_next_for(engine, order_id, worker, now, policy.lease)
        outcome = execute(engine, client, policy, row, now)
    _observe(row, outcome, manual=True)
    sync_plans(engine, now, list(policy.offsets))
    with engine.connect() as conn:
        done = conn.execute(select(retry_attempts).where(retry_attempts.c.id == row["id"]))
        final = dict(done.mappings().one())
    return {
        "order_id": order_id,
        "retry": final["number"],
        "status": final["status"],
        "outcome": outcome or RetryOutcome.GIVEN_BACK,
        "channel": final["channel"],
        "reason": final["reason"],
        "last_error": final["last_error"] if outcome is None else None,
    }


def _observe(row: dict[str, Any], outcome: RetryOutcome | None, *, manual: bool) -> None:
    """Count one retry attempt by channel and outcome; a succeeded charge is a recovery."""
    channel = row.get("channel") or "none"
    tags = {"channel": channel, "outcome": outcome or RetryOutcome.GIVEN_BACK, "manual": manual}
    metrics().increment("retries.attempts", tags=tags)
    if outcome is RetryOutcome.SUCCEEDED:
        metrics().increment("retries.recoveries", tags={"channel": channel})
    extra = {"order_id": row["order_id"], "retry": row["number"], **tags}
    log.info("retry attempt %s", tags["outcome"], extra=extra)
