"""Group commit for the event log.

Each delivery waits for its row to be committed before it is answered, but deliveries that
arrive while a commit is in flight share the next one: one transaction, one fsync, many rows.
That keeps "2xx only after a durable commit" and still takes thousands of events a second on
SQLite. The database work runs in one worker thread so the event loop keeps accepting requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError

from paywindow.errors import StoreUnavailable
from paywindow.recorder.verify import ParsedEvent
from paywindow.store.tables import event_log

__all__ = ["EventWriter", "event_row", "insert_events"]


def event_row(
    body: bytes,
    event: ParsedEvent,
    *,
    received_at: datetime,
    source: str,
    headers: dict[str, str] | None = None,
    remote_addr: str | None = None,
) -> dict[str, Any]:
    """The event-log row for a verified delivery: the raw bytes plus the indexed envelope."""
    return {
        "event_id": event.id,
        "type": event.type,
        "created": event.created,
        "account": event.account,
        "livemode": event.livemode,
        "api_version": event.api_version,
        "body": body,
        "headers": json.dumps(headers or {}),
        "received_at": received_at,
        "remote_addr": remote_addr,
        "source": source,
        "status": "pending",
        "attempts": 0,
    }


def insert_events(engine: Engine, rows: list[dict[str, Any]]) -> set[str]:
    """Insert event rows in one transaction; return the ids that were new (not duplicates)."""
    if not rows:
        return set()
    fresh: dict[str, dict[str, Any]] = {}
    for row in rows:
        fresh.setdefault(row["event_id"], row)
    dialect_insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        dialect_insert(event_log)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(event_log.c.event_id)
    )
    try:
        with engine.begin() as conn:
            result = conn.execute(statement, list(fresh.values()))
            return set(result.scalars().all())
    except DBAPIError as exc:
        raise StoreUnavailable(f"could not record events: {exc.orig}") from exc


@dataclass
class _Pending:
    row: dict[str, Any]
    future: asyncio.Future[bool]


class EventWriter:
    """Batches rows from concurrent requests into shared commits.

    ``await writer.submit(row)`` returns True when the row was new, False when its event id
    was already in the log, and raises :class:`StoreUnavailable` if the commit failed.
    ``on_commit`` is called (in the worker thread) after every commit that added rows.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = 500,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="event-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, row: dict[str, Any]) -> bool:
        assert self._queue is not None, "EventWriter.start() was not awaited"
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(row, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            inserted = await asyncio.to_thread(self._write, [p.row for p in batch])
        except Exception as exc:
            error = exc if isinstance(exc, StoreUnavailable) else StoreUnavailable(str(exc))
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(error)
            return
        claimed: set[str] = set()
        for pending in batch:
            event_id = pending.row["event_id"]
            is_new = event_id in inserted and event_id not in claimed
            claimed.add(event_id)
            if not pending.future.done():
                pending.future.set_result(is_new)

    def _write(self, rows: list[dict[str, Any]]) -> set[str]:
        with self._lock:
            inserted = insert_events(self._engine, rows)
        if inserted and self._on_commit is not None:
            self._on_commit()
        return inserted
