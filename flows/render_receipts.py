"""Deployment ``render-receipts``: the continuous receipt renderer.

One long-lived run (the deployment's concurrency limit is 1, so a scheduled run that finds one
active is cancelled) renders receipts for ``max_runtime`` seconds and ends; the schedule starts
the next, so a renderer that dies is replaced within a minute.
"""

from __future__ import annotations

from prefect import flow
from tasks.receipts import render_continuously

from paywindow.settings import Settings


@flow(name="render_receipts", log_prints=True)
def render_receipts(
    max_runtime: float = 3300.0, workers: int = 0, settings: Settings | None = None
) -> dict[str, int]:
    return render_continuously(max_runtime, workers, settings)


if __name__ == "__main__":
    render_receipts()
