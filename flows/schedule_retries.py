"""Deployment ``schedule-retries`` (every 5 minutes, one run at a time): failed payments get
at most three retries (1 h, 6 h, 18 h after the first failure), inside the payment window.

Each run opens plans for new failures, executes the attempts that are due (off-session charge
of a saved card, or a fresh Checkout link for the buyer) and closes finished plans.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from tasks.retries import run_due_retries

from paywindow.settings import Settings


@flow(name="schedule_retries", log_prints=True)
def schedule_retries(settings: Settings | None = None) -> dict[str, Any]:
    return run_due_retries(settings)


if __name__ == "__main__":
    schedule_retries()
