"""Deployment ``backfill-receipts`` (ad hoc): issue and render every receipt due, once."""

from __future__ import annotations

from prefect import flow
from tasks.receipts import render_due

from paywindow.settings import Settings


@flow(name="backfill_receipts", log_prints=True)
def backfill_receipts(limit: int = 10_000, settings: Settings | None = None) -> dict[str, int]:
    return render_due(limit, settings)


if __name__ == "__main__":
    backfill_receipts()
