"""Engines for the operational store.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL`` so a commit is on disk
before it returns, and every transaction starts with ``BEGIN IMMEDIATE``: writers queue on the
database lock up front instead of failing later on a lock upgrade. A connection opened with
``execution_options(read_only=True)`` begins a plain (deferred) transaction instead, so reads
never take the write lock. PostgreSQL gets a connect
timeout and a lock timeout, so a stuck database turns into :class:`StoreUnavailable`, not a hang.

Every engine hides bound parameters (``hide_parameters=True``): they hold buyers' emails, and
SQLAlchemy would otherwise put them into every error message and into its INFO log. PostgreSQL
echoes values too, in an error's ``DETAIL`` (``Failing row contains (...)``, with ``bytea``
bodies hex-encoded where no log redaction can see them), so errors keep the server's primary
message only; ``exc.orig.diag`` still holds the detail and ``sqlstate`` for code that needs it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url

from paywindow.errors import StoreUnavailable

__all__ = ["make_engine"]


def make_engine(url: str, *, busy_timeout: float = 2.0, pool_size: int = 5) -> Engine:
    """Build the engine for ``url`` with paywindow's durability and timeout rules."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy_timeout)
    engine = create_engine(
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
    event.listen(engine, "handle_error", _primary_message_only)
    return engine


def _primary_message_only(context: ExceptionContext) -> None:
    """Drop the server's DETAIL/HINT lines from a PostgreSQL error's text (see module doc)."""
    orig = context.original_exception
    primary = getattr(getattr(orig, "diag", None), "message_primary", None)
    full = str(orig)
    if not primary or full == primary:
        return
    orig.args = (primary,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None and wrapped.args and isinstance(wrapped.args[0], str):
        wrapped.args = (wrapped.args[0].replace(full, primary), *wrapped.args[1:])


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
            # a failed BEGIN may already have run the rollback hook, which released the lock
            if conn.info.pop("paywindow_writer", False):
                writer.release()
            raise

    def _release(conn: Any) -> None:
        if conn.info.pop("paywindow_writer", False):
            writer.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)
    return engine
