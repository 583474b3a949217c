"""Engines for the operational store.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL`` so a commit is on disk
before it returns, and every transaction starts with ``BEGIN IMMEDIATE``: writers queue on the
database lock up front instead of failing later on a lock upgrade. A connection opened with
``execution_options(read_only=True)`` begins a plain (deferred) transaction instead, so reads
never take the write lock. PostgreSQL gets a connect
timeout and a lock timeout, so a stuck database turns into :class:`StoreUnavailable`, not a hang.

Every engine hides bound parameters (``hide_parameters=True``): they hold buyers' emails, and
SQLAlchemy would otherwise put them into every error message and into its INFO log. On
PostgreSQL the server's own ``DETAIL`` (``Failing row contains (...)``) can still carry a value;
the log redaction filter masks emails there.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from paywindow.errors import StoreUnavailable

__all__ = ["make_engine"]


def make_engine(url: str, *, busy_timeout: float = 2.0, pool_size: int = 5) -> Engine:
    """Build the engine for ``url`` with paywindow's durability and timeout rules."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy_timeout)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=busy_timeout,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={
            "connect_timeout": max(1, int(busy_timeout)),
            "options": f"-c lock_timeout={int(busy_timeout * 1000)}",
        },
    )


def _sqlite_engine(url: str, busy_timeout: float) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        hide_parameters=True,
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    # Writers in this process queue on a lock first: SQLite's own busy handler sleeps with
    # growing back-off (up to 100 ms a try), which turns contention into long tail latency.
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("read_only", False):
            conn.exec_driver_sql("BEGIN")
            return
        if not writer.acquire(timeout=busy_timeout):
            raise StoreUnavailable(f"the database stayed locked for {busy_timeout} s")
        conn.info["paywindow_writer"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            conn.info.pop("paywindow_writer")
            writer.release()
            raise

    def _release(conn: Any) -> None:
        if conn.info.pop("paywindow_writer", False):
            writer.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)
    return engine
