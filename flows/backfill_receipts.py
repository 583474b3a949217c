"""Deployment ``backfill-receipts`` (ad hoc): issue and render every receipt due, once."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from tasks.receipts import render_due

REPORTS = Path(__file__).resolve().parent.parent / "reports"


@flow(name="backfill_receipts", log_prints=True)
def backfill_receipts(limit: int = 10_000) -> dict[str, int]:
    return render_due(REPORTS, limit)


if __name__ == "__main__":
    backfill_receipts()
