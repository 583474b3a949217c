"""The receipt service: issue, claim, render, store, record; and download links.

:meth:`ReceiptService.run` is the continuous renderer behind the ``render-receipts``
deployment. Each turn it issues numbered jobs for newly paid (or refunded) orders, claims as
many due jobs as it has free render slots, hands their documents to the render pool, and, as
each PDF comes back, stores it in S3 (locked, encrypted, conditional) and records it. Polls
are cheap indexed queries every ``poll_interval`` (0.2 s), so a payment is picked up within a
fraction of a second; a full sweep of unreceipted orders runs every ``sweep_interval``.

Faults: S3/KMS unavailable leaves the job ``pending`` with its error and a short backoff
(nothing lost; the conditional put means nothing duplicated on retry); a template or layout
error is kept with its traceback on the job, retried with a longer backoff and parked as
``failed`` after ``max_attempts``; either way the other jobs go on.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, exists, func, select
from sqlalchemy.exc import OperationalError

from paywindow.clock import Clock
from paywindow.errors import NotFound, ObjectStoreUnavailable, PaywindowError
from paywindow.observability import metrics
from paywindow.receipts import repository as repo
from paywindow.receipts.content import ChargeLookup, Platform, load_document
from paywindow.receipts.model import ReceiptDocument
from paywindow.receipts.repository import Claimed
from paywindow.receipts.signing import UrlSigner
from paywindow.receipts.storage import ObjectStore, StoredObject
from paywindow.store.tables import orders, receipts

__all__ = [
    "Link",
    "ReceiptConfig",
    "ReceiptService",
    "RunReport",
    "Submit",
    "backlog",
    "receipts_overdue",
]

log = logging.getLogger("paywindow.receipts")

#: Renders one document; an in-process renderer or a :class:`RenderPool`.
Submit = Callable[[ReceiptDocument], "Future[bytes]"]


@dataclass(frozen=True)
class ReceiptConfig:
    batch_size: int = 8
    max_attempts: int = 10
    lease: timedelta = timedelta(minutes=2)
    url_ttl: timedelta = timedelta(hours=24)
    poll_interval: float = 0.2
    sweep_interval: float = 30.0
    slack: timedelta = timedelta(minutes=2)  # how far back a poll looks at updated orders


@dataclass
class RunReport:
    issued: int = 0
    stored: int = 0
    adopted: int = 0
    failed: int = 0
    lost_lease: int = 0
    latencies: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Link:
    """A document's download link."""

    kind: str
    number: str
    version: int
    url: str
    expires_at: datetime
    sha256: str
    amount: int
    currency: str


class ReceiptService:
    """Everything receipts need, wired once: the shells build it and pass it in."""

    def __init__(
        self,
        engine: Engine,
        store: ObjectStore,
        signer: UrlSigner,
        platform: Platform,
        *,
        config: ReceiptConfig | None = None,
        charge_lookup: ChargeLookup | None = None,
        owner: str | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.signer = signer
        self.platform = platform
        self.config = config or ReceiptConfig()
        self.charge_lookup = charge_lookup
        self.owner = owner or f"renderer-{uuid.uuid4().hex[:12]}"

    # -- the steps ------------------------------------------------------------------------

    def issue(self, now: datetime, *, since: datetime | None = None) -> int:
        """Create numbered jobs for orders that need a document; return how many."""
        total = 0
        while True:
            with self.engine.begin() as conn:
                made = repo.issue_due(conn, now, limit=self.config.batch_size * 4, since=since)
            total += len(made)
            if not made:
                return total

    def claim(self, now: datetime, limit: int) -> list[Claimed]:
        with self.engine.begin() as conn:
            return repo.claim(conn, now, owner=self.owner, limit=limit, lease=self.config.lease)

    def document(self, job: Claimed) -> ReceiptDocument:
        with self.engine.connect() as conn:
            return load_document(conn, job.id, self.platform, charge_lookup=self.charge_lookup)

    def finish(self, job: Claimed, pdf: bytes, now: datetime) -> StoredObject | None:
        """Store the PDF and record it; None if another renderer recorded it first."""
        metadata = {
            "receipt-number": job.number,
            "order-id": job.order_id,
            "paywindow-version": str(job.target_version),
        }
        if job.version == 0:
            stored = self.store.put_first(job.object_key, pdf, now=now, metadata=metadata)
        else:
            assert job.etag is not None
            stored = self.store.put_next(
                job.object_key, pdf, now=now, metadata=metadata, expected_etag=job.etag
            )
        with self.engine.begin() as conn:
            recorded = repo.complete(
                conn,
                job,
                owner=self.owner,
                version_id=stored.version_id,
                etag=stored.etag,
                sha256=stored.sha256,
                size=stored.size,
                now=now,
            )
        if recorded:
            self._observe_stored(job, now)
        return stored if recorded else None

    def _observe_stored(self, job: Claimed, now: datetime) -> None:
        """Receipt latency: the order's payment to its first receipt being stored."""
        tags = {"kind": job.kind}
        metrics().increment("receipts.stored", tags=tags)
        log.info("receipt stored", extra={"order_id": job.order_id, "number": job.number})
        if job.kind != "receipt" or job.version != 0:
            return
        with self.engine.connect() as conn:
            paid_at = conn.execute(select(orders.c.paid_at).where(orders.c.id == job.order_id))
            when = paid_at.scalar()
        if when is not None:
            latency = (now - when).total_seconds()
            metrics().distribution("receipts.latency_seconds", latency, tags=tags)

    def fail(self, job: Claimed, exc: BaseException, now: datetime) -> None:
        transient = isinstance(exc, ObjectStoreUnavailable | OperationalError)
        log.warning(
            "receipt %s failed (%s): %s",
            job.number,
            type(exc).__name__,
            exc,
            extra={"order_id": job.order_id, "number": job.number},
        )
        metrics().increment("receipts.failed", tags={"transient": transient})
        with self.engine.begin() as conn:
            repo.fail(
                conn,
                job,
                exc,
                owner=self.owner,
                now=now,
                transient=transient,
                max_attempts=self.config.max_attempts,
            )

    # -- loops ----------------------------------------------------------------------------

    def run_once(self, clock: Clock, submit: Submit, *, limit: int = 1000) -> RunReport:
        """Issue and render everything due now, then return (the CLI and backfills)."""
        report = RunReport()
        report.issued = self.issue(clock.now())
        while jobs := self.claim(clock.now(), min(limit, self.config.batch_size)):
            inflight = self._start(jobs, submit, clock, report)
            for future, job in inflight.items():
                self._settle(job, future, clock, report)
            limit -= len(jobs)
            if limit <= 0:
                break
        _report_backlog(self.engine)
        return report

    def run(
        self,
        clock: Clock,
        submit: Submit,
        *,
        slots: int,
        stop: threading.Event,
        max_runtime: float | None = None,
        on_stored: Callable[[Claimed, StoredObject], None] | None = None,
    ) -> RunReport:
        """Render continuously until ``stop`` is set or ``max_runtime`` seconds have passed."""
        report = RunReport()
        deadline = None if max_runtime is None else time.monotonic() + max_runtime
        inflight: dict[Future[bytes], Claimed] = {}
        last_sweep = -1e9
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                last_sweep = self._top_up(clock, submit, inflight, slots, last_sweep, report)
            except (OperationalError, PaywindowError) as exc:
                log.warning("receipts: database unavailable: %s", exc)
                stop.wait(self.config.poll_interval * 5)
                continue
            if not inflight:
                stop.wait(self.config.poll_interval)
                continue
            done, _ = wait(
                list(inflight), timeout=self.config.poll_interval, return_when=FIRST_COMPLETED
            )
            for future in done:
                job = inflight.pop(future)
                stored = self._settle(job, future, clock, report)
                if stored is not None and on_stored is not None:
                    on_stored(job, stored)
        for future, job in inflight.items():  # finish what was started
            self._settle(job, future, clock, report)
        return report

    def _top_up(
        self,
        clock: Clock,
        submit: Submit,
        inflight: dict[Future[bytes], Claimed],
        slots: int,
        last_sweep: float,
        report: RunReport,
    ) -> float:
        now = clock.now()
        sweep = time.monotonic() - last_sweep >= self.config.sweep_interval
        report.issued += self.issue(now, since=None if sweep else now - self.config.slack)
        if sweep:
            _report_backlog(self.engine)
        room = slots - len(inflight)
        if room > 0:
            jobs = self.claim(now, min(room, self.config.batch_size))
            inflight.update(self._start(jobs, submit, clock, report))
        return time.monotonic() if sweep else last_sweep

    def _start(
        self, jobs: list[Claimed], submit: Submit, clock: Clock, report: RunReport
    ) -> dict[Future[bytes], Claimed]:
        started: dict[Future[bytes], Claimed] = {}
        for job in jobs:
            try:
                started[submit(self.document(job))] = job
            except Exception as exc:
                report.failed += 1
                self.fail(job, exc, clock.now())
        return started

    def _settle(
        self, job: Claimed, future: Future[bytes], clock: Clock, report: RunReport
    ) -> StoredObject | None:
        try:
            stored = self.finish(job, future.result(), clock.now())
        except Exception as exc:
            report.failed += 1
            self.fail(job, exc, clock.now())
            return None
        if stored is None:
            report.lost_lease += 1
            return None
        report.stored += 1
        report.adopted += int(stored.adopted)
        return stored

    # -- reading --------------------------------------------------------------------------

    def links(self, order_id: str, now: datetime) -> tuple[str, list[Link]]:
        """(status, links) for the order: ``not_paid``, ``pending`` or ``ready``."""
        with self.engine.connect() as conn:
            paid_at = conn.execute(select(orders.c.paid_at).where(orders.c.id == order_id)).first()
            if paid_at is None:
                raise NotFound(f"no order {order_id}")
            if paid_at[0] is None:
                return "not_paid", []
            rows = repo.receipts_for_order(conn, order_id)
        expires_at = now + self.config.url_ttl
        links = [self._link(row, now, expires_at) for row in rows if row["version"] > 0]
        if not links or links[0].kind != "receipt":
            return "pending", []
        return "ready", links

    def _link(self, row: dict[str, Any], now: datetime, expires_at: datetime) -> Link:
        url = self.signer.sign(row["object_key"], row["version_id"], now=now, expires_at=expires_at)
        return Link(
            kind=row["kind"],
            number=row["number"],
            version=row["version"],
            url=url,
            expires_at=expires_at,
            sha256=row["sha256"],
            amount=row["amount"],
            currency=row["currency"],
        )


def backlog(engine: Engine) -> dict[str, int]:
    """Receipt jobs not stored yet, by status (``pending``, ``failed``)."""
    query = (
        select(receipts.c.status, func.count())
        .where(receipts.c.status.in_(["pending", "failed"]))
        .group_by(receipts.c.status)
    )
    with engine.connect().execution_options(read_only=True) as conn:
        counts = {status: int(n) for status, n in conn.execute(query)}
    return {"pending": counts.get("pending", 0), "failed": counts.get("failed", 0)}


def _report_backlog(engine: Engine) -> None:
    for status, count in backlog(engine).items():
        metrics().gauge("receipts.backlog", count, tags={"status": status})


def receipts_overdue(
    engine: Engine, now: datetime, older_than: timedelta, *, limit: int = 20
) -> tuple[int, list[str]]:
    """Orders paid more than ``older_than`` ago with no stored receipt: (count, some ids)."""
    stored = exists().where(
        and_(
            receipts.c.order_id == orders.c.id,
            receipts.c.kind == "receipt",
            receipts.c.version > 0,
        )
    )
    where = and_(orders.c.paid_at.is_not(None), orders.c.paid_at < now - older_than, ~stored)
    with engine.connect().execution_options(read_only=True) as conn:
        count = conn.execute(select(func.count()).select_from(orders).where(where)).scalar_one()
        ids = conn.execute(
            select(orders.c.id).where(where).order_by(orders.c.paid_at).limit(limit)
        ).scalars()
        return int(count), list(ids)
