"""The marketplace's webhook endpoints: where notifications go, which topics, and their secret.

A secret is shown once, when the endpoint is added or its secret rotated; listings never show
it (:func:`endpoint_view`). Rotating keeps the old secret signing beside the new one for
:data:`ROTATION_OVERLAP`, so a receiver can switch without missing a message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, select, update

from paywindow.errors import InvalidRequest, NotFound
from paywindow.notify.signing import new_secret
from paywindow.store.tables import notification_endpoints
from paywindow.stripe_ids import new_id

__all__ = [
    "ROTATION_OVERLAP",
    "Endpoint",
    "add_endpoint",
    "disable_endpoint",
    "disable_failing",
    "enable_endpoint",
    "endpoint_view",
    "get_endpoint",
    "list_endpoints",
    "mark_failing",
    "mark_healthy",
    "rotate_secret",
]

#: How long the previous secret keeps signing after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True)
class Endpoint:
    """One endpoint as stored (its secrets included: for signing, never for display)."""

    id: str
    url: str
    topics: tuple[str, ...] | None
    secret: str
    previous_secret: str | None
    previous_until: datetime | None
    description: str | None
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None

    def secrets(self, now: datetime) -> list[str]:
        """The secrets that sign now: the current one, and the previous during rotation."""
        keep = self.previous_secret and self.previous_until and now < self.previous_until
        return [self.secret, self.previous_secret] if keep else [self.secret]  # type: ignore[list-item]

    def wants(self, topic: str) -> bool:
        return self.topics is None or topic in self.topics


def _endpoint(row: Any) -> Endpoint:
    values = dict(row._mapping)
    topics = values.pop("topics")
    return Endpoint(topics=tuple(json.loads(topics)) if topics else None, **values)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidRequest("url must be an http(s) URL with a host", field="url")
    if len(url) > 2048:
        raise InvalidRequest("url is longer than 2048 characters", field="url")
    return url


def _check_topics(topics: list[str] | None, known: frozenset[str] | None) -> list[str] | None:
    if topics is None:
        return None
    cleaned = sorted({t.strip() for t in topics if t.strip()})
    if not cleaned:
        return None
    if known is not None:
        unknown = [t for t in cleaned if t not in known]
        if unknown:
            raise InvalidRequest(f"unknown topic(s): {', '.join(unknown)}", field="topics")
    return cleaned


def add_endpoint(
    engine: Engine,
    url: str,
    now: datetime,
    *,
    topics: list[str] | None = None,
    description: str | None = None,
    known_topics: frozenset[str] | None = None,
) -> Endpoint:
    """Add an endpoint (every topic when ``topics`` is None) with a fresh ``whsec_`` secret."""
    row = {
        "id": new_id("ep", 24),
        "url": _check_url(url),
        "topics": json.dumps(chosen) if (chosen := _check_topics(topics, known_topics)) else None,
        "secret": new_secret(),
        "description": description,
        "created_at": now,
    }
    with engine.begin() as conn:
        conn.execute(notification_endpoints.insert().values(**row))
    return get_endpoint(engine, str(row["id"]))


def get_endpoint(engine: Engine | Connection, endpoint_id: str) -> Endpoint:
    query = select(notification_endpoints).where(notification_endpoints.c.id == endpoint_id)
    if isinstance(engine, Connection):
        row = engine.execute(query).first()
    else:
        with engine.connect() as conn:
            row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no notification endpoint {endpoint_id}")
    return _endpoint(row)


def list_endpoints(conn_or_engine: Engine | Connection, *, active: bool = False) -> list[Endpoint]:
    query = select(notification_endpoints).order_by(notification_endpoints.c.created_at)
    if active:
        query = query.where(notification_endpoints.c.disabled_at.is_(None))
    if isinstance(conn_or_engine, Connection):
        rows = conn_or_engine.execute(query).all()
    else:
        with conn_or_engine.connect() as conn:
            rows = conn.execute(query).all()
    return [_endpoint(row) for row in rows]


def _set(engine: Engine, endpoint_id: str, **values: Any) -> Endpoint:
    with engine.begin() as conn:
        done = conn.execute(
            update(notification_endpoints)
            .where(notification_endpoints.c.id == endpoint_id)
            .values(**values)
        )
        if done.rowcount != 1:
            raise NotFound(f"no notification endpoint {endpoint_id}")
        return get_endpoint(conn, endpoint_id)


def disable_endpoint(engine: Engine, endpoint_id: str, now: datetime, reason: str) -> Endpoint:
    """Stop delivering to the endpoint (messages wait; enabling it delivers them)."""
    return _set(engine, endpoint_id, disabled_at=now, disabled_reason=reason[:255])


def enable_endpoint(engine: Engine, endpoint_id: str) -> Endpoint:
    return _set(engine, endpoint_id, disabled_at=None, disabled_reason=None, failing_since=None)


def rotate_secret(engine: Engine, endpoint_id: str, now: datetime) -> Endpoint:
    """A new secret; the old one keeps signing beside it for :data:`ROTATION_OVERLAP`."""
    current = get_endpoint(engine, endpoint_id)
    return _set(
        engine,
        endpoint_id,
        secret=new_secret(),
        previous_secret=current.secret,
        previous_until=now + ROTATION_OVERLAP,
    )


def endpoint_view(endpoint: Endpoint, *, with_secret: bool = False) -> dict[str, Any]:
    """An endpoint as commands and the API show it; the secret only when just made."""
    view: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "topics": list(endpoint.topics) if endpoint.topics is not None else None,
        "description": endpoint.description,
        "status": "disabled" if endpoint.disabled_at else "enabled",
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": endpoint.failing_since.isoformat() if endpoint.failing_since else None,
        "created_at": endpoint.created_at.isoformat(),
    }
    if with_secret:
        view["secret"] = endpoint.secret
    return view


def mark_healthy(conn: Connection, endpoint_id: str) -> None:
    """The endpoint took a delivery: it is not failing."""
    conn.execute(
        update(notification_endpoints)
        .where(notification_endpoints.c.id == endpoint_id)
        .where(notification_endpoints.c.failing_since.is_not(None))
        .values(failing_since=None)
    )


def mark_failing(conn: Connection, endpoint_id: str, now: datetime) -> None:
    """A delivery failed: the endpoint is failing since now, unless it already was."""
    conn.execute(
        update(notification_endpoints)
        .where(notification_endpoints.c.id == endpoint_id)
        .where(notification_endpoints.c.failing_since.is_(None))
        .values(failing_since=now)
    )


def disable_failing(engine: Engine, now: datetime, after: timedelta, reason: str) -> list[str]:
    """Disable every enabled endpoint failing since before ``now - after``; their ids."""
    with engine.connect() as conn:
        ids = (
            conn.execute(
                select(notification_endpoints.c.id).where(
                    notification_endpoints.c.disabled_at.is_(None),
                    notification_endpoints.c.failing_since < now - after,
                )
            )
            .scalars()
            .all()
        )
    for endpoint_id in ids:
        disable_endpoint(engine, endpoint_id, now, reason)
    return list(ids)
