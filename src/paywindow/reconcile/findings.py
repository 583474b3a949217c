"""Findings kept per run, and their resolutions.

Invariants: a finding (fingerprint = kind + order + Stripe id) is stored once however many runs
report it; each run links the findings it saw (``reconcile_run_findings``); a resolution (when
and a note) survives reruns — a rerun refreshes the facts, never the resolution.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, insert, select, update

from paywindow.errors import NotFound
from paywindow.reconcile.matching import Amounts, Finding
from paywindow.store.tables import reconcile_findings, reconcile_run_findings, reconcile_runs

__all__ = [
    "ALL",
    "FindingStatus",
    "StoredFinding",
    "finish_run",
    "list_findings",
    "record_findings",
    "resolve_finding",
    "start_run",
]


class FindingStatus(StrEnum):
    """Where finance is with a stored finding (derived from ``resolved_at``)."""

    OPEN = "open"
    RESOLVED = "resolved"


#: :func:`list_findings` also takes this: every finding, whatever its status.
ALL = "all"


@dataclass(frozen=True)
class StoredFinding(Amounts):
    """A finding as stored, with its id and resolution."""

    id: int
    kind: str
    order_id: str | None
    stripe_id: str | None
    currency: str | None
    local_amount: int | None
    stripe_amount: int | None
    explanation: str
    occurred_at: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    resolution_note: str | None

    @property
    def status(self) -> FindingStatus:
        return FindingStatus.RESOLVED if self.resolved_at else FindingStatus.OPEN


def start_run(
    engine: Engine, *, period_from: datetime, period_to: datetime, as_of: datetime, now: datetime
) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            insert(reconcile_runs).values(
                started_at=now,
                period_from=period_from,
                period_to=period_to,
                as_of=as_of,
                findings=0,
                expected=0,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def finish_run(
    engine: Engine, run_id: int, *, findings: int, expected: int, summary: Any, now: datetime
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(reconcile_runs)
            .where(reconcile_runs.c.id == run_id)
            .values(
                finished_at=now,
                findings=findings,
                expected=expected,
                summary=json.dumps(summary, default=str),
            )
        )


def record_findings(
    engine: Engine, run_id: int, findings: Sequence[Finding], now: datetime
) -> list[int]:
    """Store (or refresh) each finding and link it to the run; return their ids in order."""
    ids: list[int] = []
    with engine.begin() as conn:
        for finding in findings:
            facts: dict[str, Any] = {
                "currency": finding.currency,
                "local_amount": finding.local_amount,
                "stripe_amount": finding.stripe_amount,
                "explanation": finding.explanation,
                "occurred_at": finding.occurred_at,
                "last_run_id": run_id,
                "last_seen_at": now,
            }
            found = conn.execute(
                select(reconcile_findings.c.id).where(
                    reconcile_findings.c.fingerprint == finding.fingerprint
                )
            ).scalar_one_or_none()
            if found is None:
                row: dict[str, Any] = {"fingerprint": finding.fingerprint, "kind": finding.kind}
                row |= {"order_id": finding.order_id, "stripe_id": finding.stripe_id}
                row |= {"first_run_id": run_id, "first_seen_at": now} | facts
                key = conn.execute(insert(reconcile_findings).values(**row)).inserted_primary_key
                assert key is not None
                found = key[0]
            else:
                conn.execute(
                    update(reconcile_findings)
                    .where(reconcile_findings.c.id == found)
                    .values(**facts)
                )
            conn.execute(insert(reconcile_run_findings).values(run_id=run_id, finding_id=found))
            ids.append(int(found))
    return ids


def _stored(row: Any) -> StoredFinding:
    names = StoredFinding.__dataclass_fields__
    return StoredFinding(**{k: v for k, v in row._mapping.items() if k in names})


def list_findings(
    engine: Engine,
    *,
    status: str = FindingStatus.OPEN,
    run_id: int | None = None,
    ids: Sequence[int] | None = None,
) -> list[StoredFinding]:
    """Stored findings: ``open``, ``resolved`` (a :class:`FindingStatus`) or ``all``
    (:data:`ALL`); optionally only one run's."""
    stmt = select(reconcile_findings).order_by(reconcile_findings.c.id)
    if status == FindingStatus.OPEN:
        stmt = stmt.where(reconcile_findings.c.resolved_at.is_(None))
    elif status == FindingStatus.RESOLVED:
        stmt = stmt.where(reconcile_findings.c.resolved_at.is_not(None))
    if run_id is not None:
        linked = select(reconcile_run_findings.c.finding_id).where(
            reconcile_run_findings.c.run_id == run_id
        )
        stmt = stmt.where(reconcile_findings.c.id.in_(linked))
    if ids is not None:
        stmt = stmt.where(reconcile_findings.c.id.in_(list(ids)))
    with engine.connect() as conn:
        return [_stored(row) for row in conn.execute(stmt)]


def resolve_finding(engine: Engine, finding_id: int, note: str, now: datetime) -> StoredFinding:
    """Mark a finding resolved with finance's note (resolving again replaces the note)."""
    with engine.begin() as conn:
        done = conn.execute(
            update(reconcile_findings)
            .where(reconcile_findings.c.id == finding_id)
            .values(resolved_at=now, resolution_note=note)
        )
        if done.rowcount == 0:
            raise NotFound(f"no finding {finding_id}")
    (stored,) = list_findings(engine, status=ALL, ids=[finding_id])
    return stored
