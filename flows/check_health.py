"""Deployment ``check-health`` (every 10 minutes): raise the domain alerts that hold.

Receipts pending too long and events failing processing become Prefect events; the
``paywindow: ...`` automations (``paywindow alerts install``) trigger on them.
"""

from __future__ import annotations

from prefect import flow
from tasks.health import emit_health_signals

from paywindow.settings import Settings


@flow(name="check-health", log_prints=True)
def check_health(settings: Settings | None = None) -> list[str]:
    return emit_health_signals(settings)


if __name__ == "__main__":
    check_health()
