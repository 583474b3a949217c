"""One reconciliation run: snapshot, match in DuckDB, store findings, gather the report's numbers.

``reconcile`` is what ``paywindow reconcile`` and the Prefect flows call. It takes every path
and time as an argument; the result holds plain values the report renders.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from paywindow.money import Money
from paywindow.observability import metrics
from paywindow.reconcile.findings import (
    StoredFinding,
    finish_run,
    list_findings,
    record_findings,
    start_run,
)
from paywindow.reconcile.matching import (
    Finding,
    Slas,
    connect,
    find,
    query,
    register_ledger,
    register_snapshot,
)
from paywindow.reconcile.snapshot import take_snapshot

__all__ = ["CurrencyTotals", "ReconcileResult", "day_range", "reconcile"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CurrencyTotals:
    """One currency's money in a period (``currency_totals.sql``: refunds, disputes and
    transfers negative; ``net`` is the platform balance's change before payouts)."""

    currency: str
    charges: int
    gross: Money
    stripe_fees: Money
    refunds: Money
    disputes: Money
    platform_fees: Money
    transfers: Money
    net: Money
    payouts: Money
    payout_count: int

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> CurrencyTotals:
        """From a ``currency_totals`` row (amounts in minor units)."""
        currency = row["currency"]

        def money(key: str) -> Money:
            return Money(int(row[key]), currency)

        return cls(
            currency=currency,
            charges=int(row["charges"]),
            gross=money("gross"),
            stripe_fees=money("stripe_fees"),
            refunds=money("refunds"),
            disputes=money("disputes"),
            platform_fees=money("platform_fees"),
            transfers=money("transfers"),
            net=money("net"),
            payouts=money("payouts"),
            payout_count=int(row["payout_count"]),
        )


@dataclass
class ReconcileResult:
    """Everything a report shows about one run."""

    run_id: int
    period_from: datetime
    period_to: datetime
    as_of: datetime
    totals: list[dict[str, Any]]
    daily: list[dict[str, Any]]
    payouts: list[dict[str, Any]]
    findings: list[StoredFinding]
    expected: list[Finding]
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def currency_totals(self) -> list[CurrencyTotals]:
        """:attr:`totals` (plain rows, as stored in the run's summary) with amounts as Money."""
        return [CurrencyTotals.of(row) for row in self.totals]

    @property
    def period_last(self) -> date:
        """The last day the period covers (``period_to`` is exclusive)."""
        return (self.period_to - timedelta(microseconds=1)).date()

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "period_from": self.period_from.isoformat(),
            "period_to": self.period_to.isoformat(),
            "as_of": self.as_of.isoformat(),
            "findings": len(self.findings),
            "open": sum(1 for f in self.findings if f.status == "open"),
            "expected": len(self.expected),
            "by_kind": self.by_kind,
            "totals": self.totals,
        }


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """``[first 00:00 UTC, the day after last 00:00 UTC)``: a report's period, both days in."""
    start = datetime.combine(first, time(), UTC)
    return start, datetime.combine(last + timedelta(days=1), time(), UTC)


def reconcile(
    engine: Engine,
    data_dir: Path,
    sql_dir: Path,
    *,
    period_from: datetime,
    period_to: datetime,
    as_of: datetime,
    now: datetime,
    slas: Slas,
    memory_limit: str = "2GB",
    threads: int = 2,
) -> ReconcileResult:
    """Match the period, store its findings under a new run, and return the report's data."""
    snapshot = take_snapshot(engine, as_of)
    con = connect(memory_limit=memory_limit, threads=threads)
    try:
        register_ledger(con, data_dir)
        register_snapshot(con, snapshot)
        found, expected = find(
            con, sql_dir, period_from=period_from, period_to=period_to, as_of=as_of, slas=slas
        )
        params = {"period_from": period_from, "period_to": period_to}
        totals = query(con, sql_dir, "currency_totals", params).to_pylist()
        daily = query(con, sql_dir, "daily_volume", params).to_pylist()
        payouts = query(con, sql_dir, "payout_lines", params).to_pylist()
    finally:
        con.close()
    unique = list({f.fingerprint: f for f in found}.values())
    run_id = start_run(engine, period_from=period_from, period_to=period_to, as_of=as_of, now=now)
    ids = record_findings(engine, run_id, unique, now)
    stored = list_findings(engine, status="all", ids=ids)
    by_kind: dict[str, int] = {}
    for f in stored:
        by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
    result = ReconcileResult(
        run_id, period_from, period_to, as_of, totals, daily, payouts, stored, expected, by_kind
    )
    finish_run(
        engine,
        run_id,
        findings=len(stored),
        expected=len(expected),
        summary=result.summary(),
        now=now,
    )
    _observe(result)
    return result


def _observe(result: ReconcileResult) -> None:
    """Findings of this run by kind (a gauge per kind) and how many are still open."""
    metrics().increment("reconcile.runs")
    for kind, count in result.by_kind.items():
        metrics().gauge("reconcile.findings", count, tags={"kind": kind})
    summary = result.summary()
    metrics().gauge("reconcile.findings_open", summary["open"])
    log.info(
        "reconciliation run %s: %d findings, %d open",
        result.run_id,
        summary["findings"],
        summary["open"],
        extra={"run_id": result.run_id, "by_kind": result.by_kind},
    )
