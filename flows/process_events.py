"""Deployment ``process-events`` (every 5 minutes): the backstop sweep of the event log.

``paywindow serve`` applies events as they arrive; this catches anything left due (a processor
that was down, events whose retry back-off has passed).
"""

from __future__ import annotations

from prefect import flow
from tasks.events import apply_due_events

from paywindow.settings import Settings


@flow(name="process_events", log_prints=True)
def process_events(limit: int = 10_000, settings: Settings | None = None) -> dict[str, int]:
    return apply_due_events(limit, settings)


if __name__ == "__main__":
    process_events()
