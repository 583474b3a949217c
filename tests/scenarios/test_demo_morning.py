"""Worked example: the demo's marketplace morning, end to end through the sandbox, the real
stripe SDK, signed webhooks with duplicated and reordered deliveries, the recorder and the
processor. Every buyer story ends in the state finance would expect."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from sqlalchemy import func, select

from paywindow.demo import run_demo
from paywindow.store import make_engine
from paywindow.store.tables import event_log, order_transitions, orders

EXPECTED = {
    "pays": {"paid", "dispute_lost"},
    "declined_then_pays": {"paid"},
    "declined_and_leaves": {"expired"},
    "stolen_card": {"expired"},
    "bank_debit_settles": {"paid"},
    "bank_debit_fails": {"payment_failed"},
    "walks_away": {"expired"},
    "pays_then_refund": {"refunded"},
    "pays_then_partial_refund": {"partially_refunded"},
}


def test_demo_morning(tmp_path: Path) -> None:
    out = io.StringIO()
    run_demo(Console(file=out, width=120), orders_count=40, seed=3, root=tmp_path)
    text = out.getvalue()
    engine = make_engine(f"sqlite:///{tmp_path}/paywindow.db")
    with engine.connect() as conn:
        states = dict(conn.execute(select(orders.c.id, orders.c.state)).all())
        statuses: dict[str, int] = dict(
            conn.execute(
                select(event_log.c.status, func.count()).group_by(event_log.c.status)
            ).all()
        )
        hops = conn.execute(select(func.count()).select_from(order_transitions)).scalar_one()
    engine.dispose()
    assert len(states) == 40
    assert set(statuses) <= {"applied", "ignored"}, statuses  # nothing failed or left pending
    assert hops >= 40
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if len(cells) == 3 and cells[0] in EXPECTED:
            seen = {part.rsplit(" ", 1)[0] for part in cells[2].split(", ")}
            assert seen <= EXPECTED[cells[0]], (cells[0], seen)
    assert "dispute_lost 1" in text
