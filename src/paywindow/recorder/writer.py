"""Group commit for the event log.

Each delivery waits for its row to be committed before it is answered, but deliveries that
arrive while a commit is in flight share the next one: one transaction, one fsync, many rows.
That keeps "2xx only after a durable commit" and still takes thousands of events a second on
SQLite. The database work runs in one worker thread so the event loop keeps accepting requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from paywindow.errors import StoreUnavailable
from paywindow.recorder.verify import ParsedEvent

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
        "headers": orjson.dumps(headers or {}).decode(),
        "received_at": received_at,
        "remote_addr": remote_addr,
        "source": source,
        "status": "pending",
        "attempts": 0,
    }


_COLUMNS = (
    "event_id",
    "type",
    "created",
    "account",
    "livemode",
    "api_version",
    "body",
    "headers",
    "received_at",
    "remote_addr",
    "source",
    "status",
    "attempts",
)


def insert_events(engine: Engine, rows: list[dict[str, Any]]) -> set[str]:
    """Insert event rows in one transaction; return the ids that were new (not duplicates).

    This is the recorder's hot path, so it runs two driver-level statements per batch (find
    the ids already logged, insert the rest) instead of per-row ORM-style processing.
    Inside the transaction (``BEGIN IMMEDIATE`` on SQLite; ``ON CONFLICT DO NOTHING`` covers a
    concurrent writer on PostgreSQL) the answer is exact.
    """
    if not rows:
        return set()
    fresh: dict[str, dict[str, Any]] = {}
    for row in rows:
        fresh.setdefault(row["event_id"], row)
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.begin() as conn:
            ids = list(fresh)
            marks = ", ".join("?" if sqlite else "%s" for _ in ids)
            known = {
                row[0]
                for row in conn.exec_driver_sql(
                    f"SELECT event_id FROM event_log WHERE event_id IN ({marks})", tuple(ids)
                )
            }
            new = [row for event_id, row in fresh.items() if event_id not in known]
            if new:
                conn.exec_driver_sql(_insert_sql(sqlite), [_params(row, sqlite) for row in new])
    except DBAPIError as exc:
        raise StoreUnavailable(f"could not record events: {exc.orig}") from exc
    return {row["event_id"] for row in new}


def _insert_sql(sqlite: bool) -> str:
    marks = ", ".join("?" if sqlite else "%s" for _ in _COLUMNS)
    return (
        f"INSERT INTO event_log ({', '.join(_COLUMNS)}) VALUES ({marks}) "
        "ON CONFLICT (event_id) DO NOTHING"
    )


def _params(row: dict[str, Any], sqlite: bool) -> tuple[Any, ...]:
    values = [row[name] for name in _COLUMNS]
    if sqlite:  # stored as SQLAlchemy stores UtcDateTime on SQLite: naive UTC text
        values[_COLUMNS.index("received_at")] = (
            row["received_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        )
    return tuple(values)


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
