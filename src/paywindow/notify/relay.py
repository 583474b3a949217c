"""The relay: the outbox delivered to the marketplace's endpoints, at least once, in order.

One pass (:meth:`Relay.run_once`):

1. **Sequence** committed messages (:func:`paywindow.notify.feed.sequence`).
2. **Fan out** each new message to every endpoint subscribed to its topic: one delivery row
   per (message, endpoint), a disabled endpoint's waiting for it; ``published_at`` is set.
3. **Claim** due deliveries (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer):
   pending, due, not held by a live claim, the endpoint enabled, and no earlier delivery of
   the same order to the same endpoint still pending — so ``order.paid`` never overtakes the
   ``payment.retry_link`` before it. A claim is a lease: a relay killed mid-delivery leaves
   it to run out, and the message is delivered again with the same ``webhook-id``.
4. **Deliver** each claimed one (signed, :mod:`paywindow.notify.signing`) while its claim
   outlives the timeout (else it is given back: a post ending after the lease would let a
   second relay send it too); record the batch's attempts (status, latency, an excerpt of the
   answer, the error) and settle them in one transaction: 2xx delivered; 410
   disables the endpoint at once; anything else is tried again on :data:`SCHEDULE` (with
   jitter), and after the last try the delivery is dead. An endpoint failing for
   :data:`DISABLE_AFTER` is disabled.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy import Engine, and_, bindparam, exists, select, update
from sqlalchemy.orm import aliased

from paywindow.clock import Clock
from paywindow.errors import ConfigError, StoreUnavailable
from paywindow.notify.deliveries import FAILING, GONE, DeliveryStatus, backlog, fan_out
from paywindow.notify.endpoints import (
    Endpoint,
    disable_endpoint,
    disable_failing,
    list_endpoints,
    mark_failing,
    mark_healthy,
)
from paywindow.notify.feed import message_id, message_view, sequence
from paywindow.notify.signing import headers
from paywindow.observability import metrics
from paywindow.store.tables import (
    notification_attempts,
    notification_deliveries,
    notification_endpoints,
    outbox,
)

__all__ = [
    "DISABLE_AFTER",
    "FAILING",
    "GONE",
    "SCHEDULE",
    "Relay",
    "RelayConfig",
    "RelayReport",
]

log = logging.getLogger(__name__)

#: Seconds before each try (Svix's schedule): at once, then 5 s, 5 min, 30 min, 2 h, 5 h,
#: 10 h and 10 h after the previous failure; after the eighth failure the delivery is dead.
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
#: An endpoint that has failed every delivery for this long is disabled.
DISABLE_AFTER = timedelta(days=5)
_EXCERPT = 500
#: How often an idle relay checks for failing endpoints and reports its backlog.
UPKEEP = timedelta(seconds=10)


@dataclass(frozen=True)
class RelayConfig:
    timeout: float = 15.0
    batch: int = 200
    workers: int = 16
    lease: timedelta = timedelta(seconds=60)
    jitter: float = 0.1
    schedule: tuple[float, ...] = SCHEDULE
    disable_after: timedelta = DISABLE_AFTER

    def __post_init__(self) -> None:
        # a delivery is started only while its claim outlives the timeout (see _post)
        if self.lease.total_seconds() <= self.timeout:
            raise ConfigError(f"the relay's lease ({self.lease}) must exceed its timeout")


@dataclass
class RelayReport:
    sequenced: int = 0
    queued: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    disabled: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.delivered + self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "sequenced": self.sequenced,
            "queued": self.queued,
            "delivered": self.delivered,
            "failed": self.failed,
            "dead": self.dead,
            "endpoints_disabled": list(self.disabled),
        }


@dataclass(frozen=True)
class _Claimed:
    id: int
    attempts: int
    endpoint_id: str
    message_id: int
    created_at: datetime
    body: bytes
    claimed_until: datetime


@dataclass(frozen=True)
class _Sent:
    """One POST and its answer (``status`` None: no answer, ``error`` says why)."""

    claimed: _Claimed
    endpoint: Endpoint
    status: int | None
    excerpt: str | None
    error: str | None
    latency_ms: int


class Relay:
    """Delivers notifications; safe to run in several processes at once."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        config: RelayConfig | None = None,
        http: httpx.Client | None = None,
        worker: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.config = config or RelayConfig()
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=self.config.timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=self.config.workers * 2),
            headers={"user-agent": "paywindow-webhooks/1"},
        )
        self.worker = worker or f"relay-{uuid.uuid4().hex[:12]}"
        self.rng = rng or random.Random()
        self._next_upkeep = datetime.min.replace(tzinfo=UTC)
        self._pool = ThreadPoolExecutor(self.config.workers, thread_name_prefix="notify")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._own_http:
            self.http.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- one pass ---------------------------------------------------------------------

    def run_once(self) -> RelayReport:
        """Sequence, fan out, then deliver everything due now; returns what happened."""
        report = RelayReport(sequenced=sequence(self.engine))
        report.queued = self.fan_out()
        while True:
            claimed = self.claim()
            if not claimed:
                break
            known = {e.id: e for e in list_endpoints(self.engine)}
            sent = list(self._pool.map(partial(self._post, endpoints=known), claimed))
            outcomes = self._settle([s for s in sent if s is not None])
            self._release([c for c, s in zip(claimed, sent, strict=True) if s is None])
            for outcome in outcomes:
                if outcome == "delivered":
                    report.delivered += 1
                elif outcome == "dead":
                    report.failed += 1
                    report.dead += 1
                else:
                    report.failed += 1
            if len(claimed) < self.config.batch:
                break
        # the upkeep queries run when this pass delivered something, else every UPKEEP: an idle
        # relay passes five times a second and need not count its backlog each time
        now = self.clock.now()
        if report.attempted or now >= self._next_upkeep:
            self._next_upkeep = now + UPKEEP
            report.disabled.extend(self._disable_failing())
            self._gauges()
        return report

    def _gauges(self) -> None:
        found = backlog(self.engine, self.clock.now())
        metrics().gauge("notifications.pending", found["pending"])
        metrics().gauge("notifications.oldest_undelivered_seconds", found["oldest_pending_s"])
        metrics().gauge("notifications.dead", found["dead"])

    def fan_out(self, *, limit: int = 5_000) -> int:
        """One delivery per subscribed endpoint for each new message; how many."""
        queued = fan_out(self.engine, self.clock.now(), limit=limit)
        metrics().increment("notifications.queued", queued)
        return queued

    def claim(self) -> list[_Claimed]:
        """Take a lease on the next due deliveries (at most ``batch``), oldest first."""
        now = self.clock.now()
        d, earlier = notification_deliveries, aliased(notification_deliveries)
        blocked = exists().where(
            earlier.c.endpoint_id == d.c.endpoint_id,
            earlier.c.order_id == d.c.order_id,
            earlier.c.seq < d.c.seq,
            earlier.c.status == DeliveryStatus.PENDING,
        )
        enabled = exists().where(
            notification_endpoints.c.id == d.c.endpoint_id,
            notification_endpoints.c.disabled_at.is_(None),
        )
        free = (d.c.claimed_until.is_(None)) | (d.c.claimed_until < now)
        query = (
            select(d.c.id, d.c.attempts, d.c.endpoint_id, d.c.message_id)
            .where(d.c.status == DeliveryStatus.PENDING, d.c.next_attempt_at <= now, free)
            .where(enabled, ~and_(d.c.order_id.is_not(None), blocked))
            .order_by(d.c.seq)
            .limit(self.config.batch)
        )
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    query = query.with_for_update(of=d, skip_locked=True)
                rows = conn.execute(query).all()
                if not rows:
                    return []
                ids = [r.id for r in rows]
                conn.execute(
                    update(d)
                    .where(d.c.id.in_(ids))
                    .values(claimed_by=self.worker, claimed_until=now + self.config.lease)
                )
                messages = {
                    m.id: m
                    for m in conn.execute(
                        select(outbox).where(outbox.c.id.in_({r.message_id for r in rows}))
                    )
                }
        except StoreUnavailable:
            log.warning("relay: the database is unavailable; trying again shortly")
            return []
        return [
            _Claimed(
                r.id,
                r.attempts,
                r.endpoint_id,
                r.message_id,
                messages[r.message_id].created_at,
                _body(messages[r.message_id]),
                now + self.config.lease,
            )
            for r in rows
        ]

    # -- one delivery -----------------------------------------------------------------

    def _post(self, claimed: _Claimed, endpoints: dict[str, Endpoint]) -> _Sent | None:
        """POST one delivery; None (given back unsent) if its endpoint is disabled, or if its
        claim could run out before the answer: a second relay may then take it, and a post
        started late would make two."""
        endpoint = endpoints.get(claimed.endpoint_id)
        now = self.clock.now()
        if endpoint is None or endpoint.disabled_at is not None:
            return None
        if now + timedelta(seconds=self.config.timeout) >= claimed.claimed_until:
            return None
        # signed at the wall clock's time: the receiver judges freshness by its own clock
        msg = message_id(claimed.message_id)
        sent = headers(endpoint.secrets(now), msg, int(time.time()), claimed.body)
        started = time.perf_counter()
        status: int | None = None
        excerpt: str | None = None
        error: str | None = None
        try:
            answer = self.http.post(endpoint.url, content=claimed.body, headers=sent)
            status, excerpt = answer.status_code, answer.text[:_EXCERPT]
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:_EXCERPT]
        latency_ms = int((time.perf_counter() - started) * 1000)
        return _Sent(claimed, endpoint, status, excerpt, error, latency_ms)

    def _settle(self, sent: list[_Sent]) -> list[str]:
        """Record a batch's attempts and outcomes in one transaction; the outcomes."""
        if not sent:
            return []
        now = self.clock.now()
        outcomes = []
        failing: set[str] = set()
        healthy: set[str] = set()
        gone: set[str] = set()
        with self.engine.begin() as conn:
            conn.execute(
                notification_attempts.insert(),
                [
                    {
                        "delivery_id": one.claimed.id,
                        "attempted_at": now,
                        "status_code": one.status,
                        "latency_ms": one.latency_ms,
                        "response_excerpt": one.excerpt,
                        "error": one.error,
                    }
                    for one in sent
                ],
            )
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for one in sent:
                outcome, values = self._outcome(one, now)
                keys = tuple(sorted(values))
                groups.setdefault(keys, []).append(
                    {"b_id": one.claimed.id, **{f"b_{k}": v for k, v in values.items()}}
                )
                outcomes.append(outcome)
                if outcome == DeliveryStatus.DELIVERED and one.endpoint.failing_since:
                    healthy.add(one.endpoint.id)
                elif outcome == "gone":
                    gone.add(one.endpoint.id)
                elif outcome != DeliveryStatus.DELIVERED and not one.endpoint.failing_since:
                    failing.add(one.endpoint.id)
            d = notification_deliveries
            for keys, rows in groups.items():  # one statement per kind of outcome
                statement = (
                    update(d)
                    .where(d.c.id == bindparam("b_id"), d.c.claimed_by == self.worker)
                    .values({k: bindparam(f"b_{k}") for k in keys})
                )
                conn.execute(statement, rows)
            for endpoint_id in healthy:
                mark_healthy(conn, endpoint_id)
            for endpoint_id in failing - healthy:
                mark_failing(conn, endpoint_id, now)
        for endpoint_id in gone:
            disable_endpoint(self.engine, endpoint_id, now, GONE)
            log.warning("endpoint disabled (410)", extra={"endpoint_id": endpoint_id})
        for one, outcome in zip(sent, outcomes, strict=True):
            self._observe(one, outcome, now)
        return outcomes

    def _outcome(self, one: _Sent, now: datetime) -> tuple[str, dict[str, Any]]:
        """What an answer means for its delivery: the outcome and the row's new values."""
        ok = one.status is not None and 200 <= one.status < 300
        attempts = one.claimed.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status": one.status,
            "last_error": one.error or (None if ok else one.excerpt),
            "claimed_by": None,
            "claimed_until": None,
        }
        if ok:
            values |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
            return DeliveryStatus.DELIVERED.value, values
        if one.status == 410:
            values["attempts"] = one.claimed.attempts  # not the message's fault: it waits
            return "gone", values
        if attempts >= len(self.config.schedule):
            values["status"] = DeliveryStatus.DEAD
            return DeliveryStatus.DEAD.value, values
        values["next_attempt_at"] = now + self._delay(attempts)
        return "retry", values

    def _delay(self, attempts: int) -> timedelta:
        base = self.config.schedule[attempts]
        spread = base * self.config.jitter
        return timedelta(seconds=max(0.0, base + self.rng.uniform(-spread, spread)))

    def _release(self, claimed: list[_Claimed]) -> None:
        """Give claims back unsent (the next pass, or another relay, takes them)."""
        if not claimed:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(notification_deliveries)
                .where(notification_deliveries.c.id.in_([c.id for c in claimed]))
                .where(notification_deliveries.c.claimed_by == self.worker)
                .values(claimed_by=None, claimed_until=None)
            )

    def _disable_failing(self) -> list[str]:
        """Disable every endpoint that has failed for :data:`DISABLE_AFTER`; their ids."""
        ids = disable_failing(self.engine, self.clock.now(), self.config.disable_after, FAILING)
        for endpoint_id in ids:
            metrics().increment("notifications.endpoints_disabled")
            log.warning("endpoint disabled (failing)", extra={"endpoint_id": endpoint_id})
        return ids

    @staticmethod
    def _observe(one: _Sent, outcome: str, now: datetime) -> None:
        claimed, endpoint, status, latency_ms = (
            one.claimed,
            one.endpoint,
            one.status,
            one.latency_ms,
        )
        tags = {"outcome": outcome}
        if outcome == DeliveryStatus.DELIVERED:
            metrics().increment("notifications.delivered")
            age = (now - claimed.created_at).total_seconds()
            metrics().distribution("notifications.latency_seconds", age)
        else:
            metrics().increment("notifications.failed", tags=tags)
        metrics().distribution("notifications.attempt_ms", latency_ms, tags=tags)
        extra = {
            "endpoint_id": endpoint.id,
            "message_id": message_id(claimed.message_id),
            "status": status,
            "attempt": claimed.attempts + 1,
        }
        level = logging.DEBUG if outcome == DeliveryStatus.DELIVERED else logging.WARNING
        log.log(level, "notification %s", outcome, extra=extra)


def _body(row: Any) -> bytes:
    return json.dumps(message_view(row), separators=(",", ":"), sort_keys=True).encode()
