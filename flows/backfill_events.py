"""Deployment ``backfill-events`` (ad hoc): recover missed webhooks from Stripe's event log.

Pulls ``/v1/events`` since ``since`` (Stripe keeps 30 days) and feeds every event the log lacks
through the same recorder path and processor as a webhook.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from tasks.events import pull_stripe_events

from paywindow.settings import Settings


@flow(name="backfill_events", log_prints=True)
def backfill_events(since: datetime, settings: Settings | None = None) -> dict[str, Any]:
    return pull_stripe_events(since, settings)
