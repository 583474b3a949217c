"""Deployment ``backfill-receipts`` (ad hoc): issue and render every receipt due, once."""

from __future__ import annotations

from prefect import flow
from tasks.receipts import render_due


@flow(name="backfill_receipts", log_prints=True)
def backfill_receipts(limit: int = 10_000) -> dict[str, int]:
    return render_due(limit)


if __name__ == "__main__":
    backfill_receipts()
