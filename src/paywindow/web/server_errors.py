"""Server errors: what a 5xx answer says, and how every one of them is reported.

Design:
- A **500** is a bug. Its body and its log record carry the same correlation id
  (``err_<16 hex>``), so a caller's report leads to the traceback. A **503** is transient
  trouble (:func:`is_transient`: the database or Stripe out or locked); Stripe and clients
  retry it, and it carries a correlation id too.
- :class:`ServerErrors` sits outermost, watches every answer and reports each 5xx once:
  the ``payments.http.server_errors`` metric (tags ``status``, ``route``), the in-process
  counters ``/healthz`` shows, and a row for :class:`ServerErrorLog`, which keeps them in the
  ``server_errors`` table that ``check-health`` counts (see :mod:`paywindow.health`).
  An exception that escapes the app is answered here (500) or, if an answer was already
  sent, logged here, so the server never logs an anonymous second traceback.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from paywindow.clock import Clock
from paywindow.errors import Transient
from paywindow.observability import metrics
from paywindow.store.tables import server_errors

__all__ = [
    "TRANSIENT_ERRORS",
    "ServerErrorLog",
    "ServerErrors",
    "error_body",
    "is_transient",
    "new_correlation_id",
    "noted",
]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Scope keys: the (correlation id, error type) of the failure being answered, and the status
#: of the answer once it started.
_ERROR = "paywindow.error"
_STATUS = "paywindow.status"

#: What answers 503: the store or Stripe out, locked or timed out (the driver's own words too).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    Transient,
    OperationalError,
    InterfaceError,
    PoolTimeout,
)


def new_correlation_id() -> str:
    return f"err_{secrets.token_hex(8)}"


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is trouble that passes (503), not a bug (500)."""
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def error_body(code: str, message: str, correlation_id: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if correlation_id is not None:
        error["correlation_id"] = correlation_id
    return {"error": error}


def route_of(scope: Scope) -> str:
    """The route template that answered (``/v1/orders/{order_id}``), never the raw path."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else str(scope.get("paywindow.route", "unmatched"))


def noted(scope: Scope, exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Log ``exc`` with a new correlation id and say how to answer it (503 or 500)."""
    correlation_id = new_correlation_id()
    scope[_ERROR] = (correlation_id, type(exc).__name__)
    extra = {"correlation_id": correlation_id, "route": route_of(scope)}
    if is_transient(exc):
        log.warning("unavailable: %s: %s", type(exc).__name__, exc, extra=extra)
        return 503, error_body("unavailable", "temporary failure; retry later", correlation_id)
    log.exception("unexpected error: %s", type(exc).__name__, exc_info=exc, extra=extra)
    message = "internal error; report the correlation id"
    return 500, error_body("internal_error", message, correlation_id)


class ServerErrors:
    """Wraps the whole app: every 5xx answer is counted, reported and kept (best-effort)."""

    def __init__(self, counters: Counter[str], keep: ServerErrorLog | None) -> None:
        self.counters = counters
        self.keep = keep

    async def __call__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        async def watched(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                scope[_STATUS] = int(message["status"])
                if scope[_STATUS] >= 500:
                    self._report(scope, scope[_STATUS])
            await send(message)

        try:
            await app(scope, receive, watched)
        except Exception as exc:
            if _STATUS not in scope:
                status, payload = noted(scope, exc)
                await respond(watched, status, payload)
            elif _ERROR not in scope:  # failed after its answer started: log it, nothing else
                noted(scope, exc)

    def _report(self, scope: Scope, status: int) -> None:
        route = route_of(scope)
        correlation_id, error = scope.get(_ERROR, (None, None))
        self.counters[f"http.server_errors.{status}"] += 1
        metrics().increment("http.server_errors", tags={"status": status, "route": route})
        if self.keep is not None:
            self.keep.add(correlation_id, status, route, error)


async def respond(send: Send, status: int, payload: dict[str, Any], allow: str = "") -> None:
    """Send a JSON answer (with ``Allow`` when given, for a 405)."""
    body = orjson.dumps(payload)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if allow:
        headers.append((b"allow", allow.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ServerErrorLog:
    """Keeps 5xx answers in ``server_errors`` from a background thread, in batches.

    Never blocks or fails a request: beyond ``max_pending`` queued rows, or while the database
    refuses them, rows are dropped (counted in ``dropped``). Rows older than ``retention`` are
    deleted as new ones arrive.
    """

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        max_pending: int = 1000,
        retention: timedelta = timedelta(days=30),
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._max_pending = max_pending
        self._retention = retention
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def add(self, correlation_id: str | None, status: int, route: str, error: str | None) -> None:
        if self._queue.qsize() >= self._max_pending:
            self.dropped += 1
            return
        row = {
            "correlation_id": correlation_id,
            "status": status,
            "route": route[:255],
            "error": error[:255] if error else None,
            "at": self._safe_now(),
        }
        self._queue.put(row)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="server-error-log", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def _safe_now(self) -> datetime:
        try:
            return self._clock.now()
        except Exception:  # the clock itself may be the bug being reported
            return datetime.now(UTC)

    def _run(self) -> None:
        while True:
            rows = [self._queue.get()]
            while not self._queue.empty() and len(rows) < 500:
                rows.append(self._queue.get_nowait())
            done = None in rows
            self._write([row for row in rows if row is not None])
            if done:
                return

    def _write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        oldest = min(row["at"] for row in rows) - self._retention
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(server_errors), rows)
                conn.execute(delete(server_errors).where(server_errors.c.at < oldest))
        except Exception as exc:  # best-effort: the metric and the log already have them
            self.dropped += len(rows)
            log.warning("could not keep %d server errors: %s", len(rows), type(exc).__name__)
