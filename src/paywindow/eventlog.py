"""The event log: what a Stripe event's row holds and how rows are written.

Shared by every path that records events — the webhook recorder, the backfill from Stripe's
event log and the backstop — so each records exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from paywindow.errors import StoreUnavailable, WebhookRejected

__all__ = ["ParsedEvent", "event_row", "insert_events", "parse_event"]


@dataclass(frozen=True)
class ParsedEvent:
    """The envelope fields of a Stripe event that the log indexes."""

    id: str
    type: str
    created: int
    account: str | None
    livemode: bool
    api_version: str | None


def parse_event(body: bytes) -> ParsedEvent:
    """Read the event envelope from a verified body; reject anything that is not an event."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookRejected(400, "malformed_json", "body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise WebhookRejected(400, "not_an_event", "body is not a JSON object")
    event_id, kind, created = data.get("id"), data.get("type"), data.get("created")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        raise WebhookRejected(400, "not_an_event", "event has no valid 'id'")
    if not isinstance(kind, str) or not kind or len(kind) > 255:
        raise WebhookRejected(400, "not_an_event", "event has no valid 'type'")
    if not isinstance(created, int) or isinstance(created, bool):
        raise WebhookRejected(400, "not_an_event", "event has no valid 'created'")
    if not isinstance(data.get("data"), dict):
        raise WebhookRejected(400, "not_an_event", "event has no 'data' object")
    account = data.get("account")
    api_version = data.get("api_version")
    return ParsedEvent(
        id=event_id,
        type=kind,
        created=created,
        account=account if isinstance(account, str) else None,
        livemode=bool(data.get("livemode", False)),
        api_version=api_version if isinstance(api_version, str) else None,
    )


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
