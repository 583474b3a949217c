"""Run events through the real processor and read the order back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from paywindow.cli.views import list_events
from paywindow.inbox.processor import process_due
from paywindow.payments.repository import get_order
from tests.factories import NOW, record


def apply(engine: Engine, *events: dict[str, Any], allow_failed: bool = False) -> None:
    """Record ``events`` and process until nothing is due (backoff is skipped by time travel)."""
    record(engine, *events)
    drain(engine)
    if not allow_failed:
        failed = list_events(engine, status="failed")
        assert not failed, failed


def drain(engine: Engine) -> None:
    """Apply everything due now, then what backoff put an hour and six hours later."""
    for later in (NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=6)):
        while process_due(engine, later).total:
            pass


def order(engine: Engine, order_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return get_order(conn, order_id)


def state(engine: Engine, order_id: str) -> str:
    return str(order(engine, order_id)["state"])
