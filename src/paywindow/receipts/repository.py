"""Receipt jobs in the database: issuing, claiming, completing, failing, re-rendering.

A receipt row is both the document (number, amount, kind) and its rendering job
(``status``, ``attempts``, ``next_attempt_at``, a lease). Life of a row:

1. :func:`issue_due` finds paid orders without a receipt (and refunded amounts without a
   credit note), locks them (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the ``BEGIN IMMEDIATE``
   write lock on SQLite) and inserts ``pending`` rows with their numbers (see ``numbering``).
   Only orders with ``paid_at`` set are ever issued a receipt.
2. :func:`claim` leases due pending rows to one renderer (``SKIP LOCKED`` again), so several
   renderers never work on the same row at once; an expired lease (a renderer died) makes the
   row claimable again.
3. :func:`complete` records the stored object (key, version id, SHA-256) and a
   ``receipt.generated`` outbox message in one transaction, only if the caller still holds the
   lease; :func:`fail` records the error and traceback and schedules a retry with backoff.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select, update

from paywindow.receipts.numbering import allocate, format_number, series_for
from paywindow.store.outbox import write_message
from paywindow.store.sql import backoff
from paywindow.store.tables import orders, receipt_versions, receipts

__all__ = [
    "CHARGE_GRACE",
    "ReceiptKind",
    "ReceiptStatus",
    "Status",
    "claim",
    "complete",
    "fail",
    "issue_due",
    "object_key",
    "receipts_for_order",
    "request_rerender",
]

#: How long a paid order waits for its charge id before its receipt is issued without one.
CHARGE_GRACE = timedelta(minutes=5)


class ReceiptStatus(StrEnum):
    """A receipt row's rendering job (``receipts.status``)."""

    PENDING = "pending"  # to be rendered (first version or a re-render)
    STORED = "stored"  # the current target version is in the object store
    FAILED = "failed"  # parked after max attempts of a non-transient error; admin re-render


class ReceiptKind(StrEnum):
    """Which document a receipt row is (``receipts.kind``)."""

    RECEIPT = "receipt"
    CREDIT_NOTE = "credit_note"


#: The older name of :class:`ReceiptStatus`.
Status = ReceiptStatus


@dataclass(frozen=True)
class Claimed:
    """A leased job: what the renderer needs to render and store one document."""

    id: int
    order_id: str
    kind: str
    number: str
    object_key: str
    version: int
    target_version: int
    etag: str | None
    reason: str | None


def object_key(number: str, issued_at: datetime) -> str:
    return f"receipts/{issued_at:%Y}/{issued_at:%m}/{number}.pdf"


def issue_due(
    conn: Connection, now: datetime, *, limit: int, since: datetime | None = None
) -> list[int]:
    """Create numbered pending rows for orders that need a receipt or credit note."""
    receipted = exists().where(
        and_(receipts.c.order_id == orders.c.id, receipts.c.kind == ReceiptKind.RECEIPT)
    )
    credited = (
        select(func.coalesce(func.max(receipts.c.refunded_to), 0))
        .where(receipts.c.order_id == orders.c.id, receipts.c.kind == ReceiptKind.CREDIT_NOTE)
        .scalar_subquery()
    )
    query = (
        select(orders)
        .where(orders.c.paid_at.is_not(None))
        .where(or_(orders.c.charge.is_not(None), orders.c.paid_at < now - CHARGE_GRACE))
        .where(or_(~receipted, orders.c.amount_refunded > credited))
        .order_by(orders.c.paid_at, orders.c.id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(orders.c.updated_at >= since)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=orders)
    created: list[int] = []
    for order in conn.execute(query).mappings():
        created.extend(_issue_for(conn, order, now))
    return created


def _issue_for(conn: Connection, order: Any, now: datetime) -> list[int]:
    # Read afresh: on PostgreSQL this statement sees rows a racing renderer just committed.
    existing = list(conn.execute(select(receipts).where(receipts.c.order_id == order["id"])))
    ids = []
    original = next((r for r in existing if r.kind == ReceiptKind.RECEIPT), None)
    if original is None:
        amount = order["amount_charged"] or order["amount_total"]
        new_id, original_number = _insert(conn, order, ReceiptKind.RECEIPT, 0, amount, None, now)
        ids.append(new_id)
    else:
        original_number = original.number
    notes = [r for r in existing if r.kind == ReceiptKind.CREDIT_NOTE]
    credited = max((r.refunded_to for r in notes), default=0)
    refunded = int(order["amount_refunded"] or 0)
    if refunded > credited:
        amount = refunded - credited
        note = _insert(conn, order, ReceiptKind.CREDIT_NOTE, refunded, amount, original_number, now)
        ids.append(note[0])
    return ids


def _insert(
    conn: Connection,
    order: Any,
    kind: ReceiptKind,
    refunded_to: int,
    amount: int,
    original_number: str | None,
    now: datetime,
) -> tuple[int, str]:
    series = series_for(kind, now)
    seq = allocate(conn, series)
    number = format_number(series, seq)
    row = {
        "order_id": order["id"],
        "kind": kind,
        "refunded_to": refunded_to,
        "series": series,
        "seq": seq,
        "number": number,
        "original_number": original_number,
        "currency": order["currency"],
        "amount": amount,
        "issued_at": now,
        "status": ReceiptStatus.PENDING,
        "version": 0,
        "target_version": 1,
        "attempts": 0,
        "next_attempt_at": now,
        "object_key": object_key(number, now),
        "created_at": now,
        "updated_at": now,
    }
    new_id = conn.execute(receipts.insert().values(row).returning(receipts.c.id)).scalar_one()
    return int(new_id), number


def claim(
    conn: Connection, now: datetime, *, owner: str, limit: int, lease: timedelta
) -> list[Claimed]:
    """Lease up to ``limit`` due pending jobs to ``owner``."""
    query = (
        select(receipts)
        .where(receipts.c.status == ReceiptStatus.PENDING, receipts.c.next_attempt_at <= now)
        .where(or_(receipts.c.lease_until.is_(None), receipts.c.lease_until < now))
        .order_by(receipts.c.next_attempt_at, receipts.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(conn.execute(query).mappings())
    if not rows:
        return []
    conn.execute(
        update(receipts)
        .where(receipts.c.id.in_([r["id"] for r in rows]))
        .values(
            lease_owner=owner,
            lease_until=now + lease,
            attempts=receipts.c.attempts + 1,
            updated_at=now,
        )
    )
    return [
        Claimed(
            id=r["id"],
            order_id=r["order_id"],
            kind=r["kind"],
            number=r["number"],
            object_key=r["object_key"],
            version=r["version"],
            target_version=r["target_version"],
            etag=r["etag"],
            reason=r["rerender_reason"],
        )
        for r in rows
    ]


def complete(
    conn: Connection,
    job: Claimed,
    *,
    owner: str,
    version_id: str | None,
    etag: str,
    sha256: str,
    size: int,
    now: datetime,
) -> bool:
    """Record the stored version; False if the lease was lost (someone else finished it)."""
    done = conn.execute(
        update(receipts)
        .where(
            receipts.c.id == job.id,
            receipts.c.lease_owner == owner,
            receipts.c.status == ReceiptStatus.PENDING,
            receipts.c.target_version == job.target_version,
        )
        .values(
            status=ReceiptStatus.STORED,
            version=job.target_version,
            version_id=version_id,
            etag=etag,
            sha256=sha256,
            size=size,
            stored_at=now,
            lease_owner=None,
            lease_until=None,
            last_error=None,
            last_traceback=None,
            updated_at=now,
        )
    )
    if done.rowcount != 1:
        return False
    conn.execute(
        receipt_versions.insert().values(
            receipt_id=job.id,
            version=job.target_version,
            object_key=job.object_key,
            version_id=version_id,
            etag=etag,
            sha256=sha256,
            size=size,
            reason=job.reason,
            stored_at=now,
        )
    )
    _announce(conn, job, sha256, now)
    return True


def _announce(conn: Connection, job: Claimed, sha256: str, now: datetime) -> None:
    """The ``receipt.generated`` message (schema: ``paywindow/notify/schemas``). No link: a
    signed link lasts 24 hours, so the message says where to fetch fresh ones."""
    doc = conn.execute(
        select(receipts.c.amount, receipts.c.currency, receipts.c.original_number).where(
            receipts.c.id == job.id
        )
    ).one()
    payload = {
        "order_id": job.order_id,
        "kind": job.kind,
        "number": job.number,
        "version": job.target_version,
        "original_number": doc.original_number,
        "amount": doc.amount,
        "currency": doc.currency,
        "sha256": sha256,
        "fetch_path": f"/v1/orders/{job.order_id}/receipt",
    }
    write_message(
        conn,
        topic="receipt.generated",
        dedupe_key=f"receipt.generated:{job.number}:v{job.target_version}",
        payload=payload,
        now=now,
        order_id=job.order_id,
    )


def fail(
    conn: Connection,
    job: Claimed,
    exc: BaseException,
    *,
    owner: str,
    now: datetime,
    transient: bool,
    max_attempts: int,
) -> None:
    """Keep the error and traceback on the job and schedule its retry (or park it)."""
    attempts = conn.execute(select(receipts.c.attempts).where(receipts.c.id == job.id)).scalar_one()
    parked = not transient and attempts >= max_attempts
    conn.execute(
        update(receipts)
        .where(receipts.c.id == job.id, receipts.c.lease_owner == owner)
        .values(
            status=ReceiptStatus.FAILED if parked else ReceiptStatus.PENDING,
            next_attempt_at=now + backoff(attempts, base=1.0, cap=60.0 if transient else 3600.0),
            lease_owner=None,
            lease_until=None,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            last_traceback="".join(traceback.format_exception(exc))[-20000:],
            updated_at=now,
        )
    )


def request_rerender(
    conn: Connection, order_id: str, *, reason: str, now: datetime, number: str | None = None
) -> dict[str, Any] | None:
    """Ask for a new version of the order's receipt (or of document ``number``)."""
    query = select(receipts).where(receipts.c.order_id == order_id)
    which = receipts.c.number == number if number else receipts.c.kind == ReceiptKind.RECEIPT
    query = query.where(which)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    target = row["version"] + 1
    conn.execute(
        update(receipts)
        .where(receipts.c.id == row["id"])
        .values(
            status=ReceiptStatus.PENDING,
            target_version=target,
            attempts=0,
            next_attempt_at=now,
            lease_owner=None,
            lease_until=None,
            rerender_reason=reason,
            updated_at=now,
        )
    )
    return {**row, "target_version": target}


def receipts_for_order(conn: Connection, order_id: str) -> list[dict[str, Any]]:
    """Every document of the order, receipt first, then credit notes in order."""
    rows = conn.execute(
        select(receipts)
        .where(receipts.c.order_id == order_id)
        .order_by(receipts.c.kind.desc(), receipts.c.refunded_to)
    ).mappings()
    return [dict(r) for r in rows]
