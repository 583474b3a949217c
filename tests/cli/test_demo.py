"""Smoke test of ``paywindow demo``: the marketplace day, end to end — sandbox buyers, signed
webhooks (duplicated and reordered), recorder, processor, retries, the window timer,
late-payment refunds, receipts in S3, and the reconciliation report — ends clean and explained.

One call runs the whole day, so it is checked at the end; tests/scenarios/ tells stories step
by step."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from sqlalchemy import func, select

from paywindow.cli.demo import run_demo
from paywindow.store import make_engine
from paywindow.store.tables import event_log

SETTLED = {
    "paid",
    "expired",
    "refunded",
    "partially_refunded",
    "dispute_lost",
    "late_payment_refunded",
}


def test_a_marketplace_day(tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_demo(
        Console(file=out, width=140),
        orders_count=80,
        seed=3,
        root=tmp_path / "demo",
        out=tmp_path / "out",
    )
    assert sum(result.states.values()) == 80
    assert set(result.states) <= SETTLED, result.states  # nothing left half-way
    assert result.states.get("late_payment_refunded", 0) >= 1
    assert result.lateness and max(result.lateness) <= 1.0
    assert result.findings == {}  # a clean day reconciles with zero findings
    # retries recover failed payments
    assert 0 < result.recovered <= result.failed_orders, (result.recovered, result.failed_orders)
    # the marketplace heard every decision over signed webhooks, and told buyers of retry links
    received, told = result.notifications
    assert received >= sum(result.states.values()) and told > 0
    assert result.report is not None and result.report.exists()
    assert {p.suffix for p in (tmp_path / "out").iterdir()} == {".html", ".pdf", ".csv"}
    engine = make_engine(f"sqlite:///{tmp_path / 'demo' / 'paywindow.db'}")
    with engine.connect() as conn:
        statuses: dict[str, int] = dict(
            conn.execute(
                select(event_log.c.status, func.count()).group_by(event_log.c.status)
            ).all()
        )
    engine.dispose()
    assert set(statuses) <= {"applied", "ignored"}, statuses
    assert "paywindow demo: a marketplace day" in out.getvalue()
