"""Group commit for the event log.

Each delivery waits for its row to be committed before it is answered, but deliveries that
arrive while a commit is in flight share the next one: one transaction, one fsync, many rows.
That keeps "2xx only after a durable commit" and still takes thousands of events a second on
SQLite. The database work runs in one worker thread so the event loop keeps accepting requests.

A shared commit that fails for any reason but an outage is retried row by row, so one row the
database refuses (:class:`~paywindow.inbox.eventlog.UnstorableEvent`, a 400) does not fail its
neighbours; an outage fails the whole batch with :class:`StoreUnavailable` (503 for each).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from paywindow.errors import StoreUnavailable
from paywindow.inbox.eventlog import UnstorableEvent, insert_events

__all__ = ["EventWriter"]

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    row: dict[str, Any]
    future: asyncio.Future[bool]


class EventWriter:
    """Batches rows from concurrent requests into shared commits.

    ``await writer.submit(row)`` returns True when the row was new, False when its event id
    was already in the log; it raises :class:`StoreUnavailable` if the database was out,
    :class:`UnstorableEvent` if it refused this row, and whatever a bug raised.
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
        if len(batch) > 1:
            try:
                inserted = await asyncio.to_thread(self._write, [p.row for p in batch])
            except StoreUnavailable as exc:
                _fail(batch, exc)
                return
            except Exception as exc:
                log.warning("group commit of %d rows failed (%r); row by row now", len(batch), exc)
            else:
                _resolve(batch, inserted)
                return
        await self._commit_each(batch)

    async def _commit_each(self, batch: list[_Pending]) -> None:
        for index, pending in enumerate(batch):
            try:
                inserted = await asyncio.to_thread(self._write, [pending.row])
            except StoreUnavailable as exc:  # the database went away: no use trying the rest
                _fail(batch[index:], exc)
                return
            except Exception as exc:
                if isinstance(exc, UnstorableEvent):
                    extra = {"event_id": pending.row["event_id"]}
                    log.warning("event refused by the database: %s", exc.detail, extra=extra)
                _fail([pending], exc)
            else:
                _resolve([pending], inserted)

    def _write(self, rows: list[dict[str, Any]]) -> set[str]:
        with self._lock:
            inserted = insert_events(self._engine, rows)
        if inserted and self._on_commit is not None:
            self._on_commit()
        return inserted


def _fail(batch: list[_Pending], error: BaseException) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(error)


def _resolve(batch: list[_Pending], inserted: set[str]) -> None:
    """True for the first row of each new event id, False for the rest (duplicates)."""
    claimed: set[str] = set()
    for pending in batch:
        event_id = pending.row["event_id"]
        is_new = event_id in inserted and event_id not in claimed
        claimed.add(event_id)
        if not pending.future.done():
            pending.future.set_result(is_new)
