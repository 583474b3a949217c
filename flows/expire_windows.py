"""Deployment ``expire-windows`` (every minute): every payment window closes on time.

Each run closes what is overdue, then stays up for ``horizon`` seconds closing each window at
its deadline (±1 s), tells Stripe, refunds late payments and re-reads silent sessions.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from tasks.windows import enforce_payment_windows

from paywindow.settings import Settings


@flow(name="expire_windows", log_prints=True)
def expire_windows(horizon: float = 75.0, settings: Settings | None = None) -> dict[str, Any]:
    return enforce_payment_windows(horizon, settings)


if __name__ == "__main__":
    expire_windows()
