"""Reading Stripe's event log (``GET /v1/events``; Stripe keeps 30 days)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import stripe

from paywindow.gateway.client import stripe_errors

__all__ = ["events_since"]


def events_since(
    client: stripe.StripeClient, since: datetime, *, page_size: int = 100
) -> Iterator[tuple[str, bytes]]:
    """(event id, JSON body) of every event created at or after ``since``, newest first."""
    params: dict[str, Any] = {"created": {"gte": int(since.timestamp())}, "limit": page_size}
    with stripe_errors():
        page = client.v1.events.list(params=params)  # type: ignore[arg-type]
        for event in page.auto_paging_iter():
            body = json.dumps(event.to_dict(), separators=(",", ":")).encode()
            yield str(event.id), body
