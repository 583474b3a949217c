"""The event log: what a Stripe event's row holds and how rows are written.

Shared by every path that records events — the webhook recorder, the backfill from Stripe's
event log and the backstop — so each records exactly the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from paywindow.errors import StoreUnavailable, WebhookRejected
from paywindow.payments import MAX_CREATED

__all__ = [
    "MAX_CREATED",
    "MAX_DEPTH",
    "ParsedEvent",
    "UnstorableEvent",
    "event_row",
    "insert_events",
    "parse_event",
]


class UnstorableEvent(WebhookRejected):
    """The database refuses a row as data (a constraint, a value out of range), not an outage.

    Answered 400: the same bytes would be refused again, so "retry later" would be a lie.
    ``detail`` is the database's word, for the log only.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(400, "unstorable", "the event log cannot store this event")
        self.detail = detail


@dataclass(frozen=True)
class ParsedEvent:
    """The envelope fields of a Stripe event that the log indexes."""

    id: str
    type: str
    created: int
    account: str | None
    livemode: bool
    api_version: str | None


#: The deepest nesting accepted. Stripe's events nest about ten levels; at 64 every JSON tool
#: paywindow uses (orjson reads 1024 and writes 255 levels, the stdlib ~1000) handles the body.
MAX_DEPTH = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_event(body: bytes) -> ParsedEvent:
    """Read the event envelope from a verified body; reject anything that is not an event.

    Whatever passes can be stored (the indexed columns' lengths, no control characters, a
    ``created`` a BIGINT and a datetime hold) and processed (parsed by the same orjson, no NUL
    in any string, which PostgreSQL refuses in text, nesting within :data:`MAX_DEPTH`).
    """
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookRejected(400, "malformed_json", "body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise WebhookRejected(400, "not_an_event", "body is not a JSON object")
    event = ParsedEvent(
        id=_text(data.get("id"), "id", 255),
        type=_text(data.get("type"), "type", 255),
        created=_created(data.get("created")),
        account=_optional_text(data.get("account"), "account", 255),
        livemode=_livemode(data.get("livemode", False)),
        api_version=_optional_text(data.get("api_version"), "api_version", 64),
    )
    if not isinstance(data.get("data"), dict):
        raise WebhookRejected(400, "not_an_event", "event has no 'data' object")
    _check_contents(body, data)
    return event


def _invalid(name: str) -> WebhookRejected:
    return WebhookRejected(400, "not_an_event", f"event has no valid '{name}'")


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit or _CONTROL.search(value):
        raise _invalid(name)
    return value


def _optional_text(value: Any, name: str, limit: int) -> str | None:
    return None if value is None else _text(value, name, limit)


def _created(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CREATED:
        raise _invalid("created")
    return value


def _livemode(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _invalid("livemode")
    return value


def _check_contents(body: bytes, data: Any) -> None:
    """No string holds a NUL and nothing nests deeper than :data:`MAX_DEPTH`.

    Both are decided from the bytes first (a NUL in a JSON string is written ``\\u0000``;
    depth is at most the number of brackets), so a usual event is never walked.
    """
    maybe_nul = b"\\u0000" in body
    maybe_deep = body.count(b"[") + body.count(b"{") > MAX_DEPTH
    if not (maybe_nul or maybe_deep):
        return
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise WebhookRejected(400, "too_deep", f"body nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            if maybe_nul and any("\x00" in key for key in value):
                raise _nul()
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif maybe_nul and isinstance(value, str) and "\x00" in value:
            raise _nul()


def _nul() -> WebhookRejected:
    return WebhookRejected(400, "nul_character", "a string in the body holds a NUL character")


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
    concurrent writer on PostgreSQL) the answer is exact. A row the database refuses raises
    :class:`UnstorableEvent` (nothing of the batch is committed); an outage raises
    :class:`StoreUnavailable`.
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
    except (DataError, IntegrityError) as exc:
        raise UnstorableEvent(str(exc.orig)) from exc
    except DBAPIError as exc:
        raise StoreUnavailable(f"could not record events: {exc.orig}") from exc
    except OverflowError as exc:  # SQLite's driver, for an integer beyond 64 bits
        raise UnstorableEvent(str(exc)) from exc
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
