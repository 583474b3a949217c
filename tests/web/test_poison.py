"""One event the database refuses does not fail its group commit: it gets a 400, each of its
neighbours its 2xx; an outage still answers 503 to every delivery."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from paywindow.errors import StoreUnavailable
from paywindow.inbox.eventlog import UnstorableEvent, event_row, insert_events, parse_event
from paywindow.inbox.writer import EventWriter
from paywindow.store.tables import event_log
from tests import factories as f
from tests.web.conftest import Recorder

POISON = "evt_poison"


def _ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(event_log.c.event_id)).scalars())


def _row(event_id: str, **overrides: Any) -> dict[str, Any]:
    body = f.body_of(f.event("payment_intent.succeeded", f.payment_intent("ord_p"), id=event_id))
    row = event_row(body, parse_event(body), received_at=f.NOW, source="test")
    row.update(overrides)
    return row


@pytest.fixture
def poison(engine: Engine) -> Iterator[str]:
    """The database refuses any event whose id starts with ``evt_poison`` (a constraint)."""
    if engine.dialect.name == "postgresql":
        install = (
            "ALTER TABLE event_log ADD CONSTRAINT poison CHECK (event_id NOT LIKE 'evt_poison%')"
        )
        remove = "ALTER TABLE event_log DROP CONSTRAINT poison"
    else:
        install = (
            "CREATE TRIGGER poison BEFORE INSERT ON event_log "
            "WHEN NEW.event_id LIKE 'evt_poison%' BEGIN SELECT RAISE(ABORT, 'poison'); END"
        )
        remove = "DROP TRIGGER poison"
    with engine.begin() as conn:
        conn.execute(text(install))
    yield POISON
    with engine.begin() as conn:
        conn.execute(text(remove))


def _hold_the_log(engine: Engine, seconds: float) -> threading.Thread:
    """Keep event_log locked for ``seconds`` so concurrent deliveries pile into one commit."""
    started = threading.Event()

    def hold() -> None:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE event_log IN ACCESS EXCLUSIVE MODE"))
            else:
                conn.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held
            started.set()
            time.sleep(seconds)
            conn.rollback()

    thread = threading.Thread(target=hold)
    thread.start()
    started.wait(5)
    return thread


def test_a_poison_event_in_a_concurrent_burst_fails_alone(
    recorder: Recorder, engine: Engine, poison: str
) -> None:
    ids = [f"evt_burst_{i:02d}" for i in range(39)] + [poison]
    bodies = {
        event_id: f.body_of(f.event("charge.succeeded", f.charge("ord_b"), id=event_id))
        for event_id in ids
    }
    holder = _hold_the_log(engine, 0.6)
    with ThreadPoolExecutor(20) as pool:
        answers = dict(zip(ids, pool.map(lambda i: recorder.deliver(bodies[i]), ids), strict=True))
    holder.join()
    assert answers[poison].status_code == 400
    assert answers[poison].json()["error"]["code"] == "unstorable"
    assert {i: a.status_code for i, a in answers.items() if i != poison} == dict.fromkeys(
        ids[:-1], 200
    )
    assert _ids(engine) == set(ids[:-1])
    assert recorder.config.counters["webhooks.rejected.unstorable"] == 1


def test_insert_events_names_a_data_error_unstorable(engine: Engine) -> None:
    # created beyond BIGINT: PostgreSQL says DataError, SQLite's driver OverflowError
    rows = [_row("evt_ok_1"), _row("evt_huge", created=2**63), _row("evt_ok_2")]
    with pytest.raises(UnstorableEvent):
        insert_events(engine, rows)
    assert _ids(engine) == set()


async def _submit_all(engine: Engine, rows: list[dict[str, Any]]) -> list[object]:
    writer = EventWriter(engine)
    await writer.start()
    try:
        results = await asyncio.gather(*(writer.submit(r) for r in rows), return_exceptions=True)
    finally:
        await writer.stop()
    return list(results)


def test_the_writer_retries_a_failed_group_commit_row_by_row(engine: Engine) -> None:
    rows = [_row(f"evt_n_{i}") for i in range(5)]
    rows.insert(2, _row("evt_huge", created=2**63))
    rows.append(_row("evt_n_0"))  # a redelivery inside the same batch
    results = asyncio.run(_submit_all(engine, rows))
    assert isinstance(results[2], UnstorableEvent)
    assert [r for i, r in enumerate(results) if i != 2] == [True] * 5 + [False]
    assert _ids(engine) == {f"evt_n_{i}" for i in range(5)}


def test_an_outage_is_still_503_for_the_whole_batch(db_url: str, engine: Engine) -> None:
    from paywindow.store import make_engine

    impatient = make_engine(db_url, busy_timeout=0.3)
    holder = _hold_the_log(engine, 1.0)
    try:
        results = asyncio.run(_submit_all(impatient, [_row(f"evt_o_{i}") for i in range(4)]))
    finally:
        holder.join()
        impatient.dispose()
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    assert _ids(engine) == set()
