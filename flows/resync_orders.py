"""Deployment ``resync-orders`` (ad hoc): re-read from Stripe the orders created in a range."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from tasks.events import reread_orders

from paywindow.settings import Settings


@flow(name="resync_orders", log_prints=True)
def resync_orders(
    start: datetime, end: datetime, settings: Settings | None = None
) -> dict[str, Any]:
    return reread_orders(start, end, settings)
