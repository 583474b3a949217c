"""Deployment ``deliver-notifications``: the relay, delivering every decision to the marketplace.

One long-lived run (concurrency 1 per schedule; more runs on PostgreSQL share the work through
``FOR UPDATE SKIP LOCKED``) delivers for ``max_runtime`` seconds and ends; the schedule starts
the next, so a relay that dies is replaced within a minute. ``serve`` runs the same relay
in-process by default; this deployment is for installations that run ``serve --no-relay``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from tasks.notifications import deliver_continuously

from paywindow.settings import Settings


@flow(name="deliver_notifications", log_prints=True)
def deliver_notifications(
    max_runtime: float = 3300.0, settings: Settings | None = None
) -> dict[str, Any]:
    return deliver_continuously(max_runtime, settings)


if __name__ == "__main__":
    deliver_notifications()
