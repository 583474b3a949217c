"""Recovering what webhooks missed: events pulled from Stripe, orders re-read from Stripe.

Both feed the same path as a webhook: rows in the event log (source ``backfill`` or
``backstop``), applied by the processor. Events already logged are skipped by id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import stripe
from sqlalchemy import Engine, select

from paywindow.errors import WebhookRejected
from paywindow.gateway.events import events_since
from paywindow.inbox.backstop import backstop_sweep
from paywindow.inbox.eventlog import event_row, insert_events, parse_event
from paywindow.inbox.processor import process_due
from paywindow.store.tables import orders

__all__ = ["BackfillReport", "backfill_events", "resync_orders"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackfillReport:
    fetched: int
    recorded: int
    applied: dict[str, int]


def backfill_events(
    engine: Engine, client: stripe.StripeClient, since: datetime, now: datetime
) -> BackfillReport:
    """Pull every event since ``since`` from Stripe, log the ones we lack, apply them."""
    fetched = recorded = 0
    batch: list[dict[str, object]] = []
    for event_id, body in events_since(client, since):
        fetched += 1
        try:
            envelope = parse_event(body)
        except WebhookRejected as exc:  # the recorder would refuse it too: skip, say so
            log.warning("backfill skipped %s: %s", event_id, exc.message)
            continue
        batch.append(event_row(body, envelope, received_at=now, source="backfill"))
        if len(batch) >= 200:
            recorded += len(insert_events(engine, batch))
            batch = []
    recorded += len(insert_events(engine, batch))
    applied = process_due(engine, now, limit=100_000)
    return BackfillReport(fetched, recorded, dict(applied.counts))


def resync_orders(
    engine: Engine, client: stripe.StripeClient, start: datetime, end: datetime, now: datetime
) -> BackfillReport:
    """Re-read at Stripe the sessions of unsettled orders created in [start, end)."""
    with engine.connect().execution_options(read_only=True) as conn:
        ids = list(
            conn.execute(
                select(orders.c.id).where(orders.c.created_at >= start, orders.c.created_at < end)
            ).scalars()
        )
    recorded = backstop_sweep(engine, client, now, order_ids=ids) if ids else 0
    applied = process_due(engine, now, limit=100_000)
    return BackfillReport(len(ids), recorded, dict(applied.counts))
