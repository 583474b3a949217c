"""The recovery report: how many failed payments were recovered, and by which retry.

Cohort: orders whose **first** payment failure falls in ``[start, end)``. Recovered: the order
was paid in time (``paid_at`` not after its deadline) after that failure. Recovery rate =
recovered ÷ failed. Each recovery is credited to the retry whose order attempt was paid
(``off_session`` or ``link``, retry 1-3), or to the buyer alone (``none``: paid on the original
checkout, e.g. a second card in the same session). Also by the first failure's decline code.
:meth:`RecoveryReport.as_dict` is what the finance report reads.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from paywindow.documents import environment
from paywindow.payments import AttemptChannel, AttemptStatus
from paywindow.retries.states import RetryStatus
from paywindow.store.tables import attempts, orders, payment_failures, retry_attempts, retry_plans

__all__ = ["RecoveryReport", "RecoveryRow", "plan_view", "recovery_report", "write_recovery_report"]


@dataclass(frozen=True)
class RecoveryRow:
    label: str
    failed: int  # orders (by decline code) or retries executed (by attempt / channel)
    recovered: int

    @property
    def rate(self) -> float:
        return self.recovered / self.failed if self.failed else 0.0


@dataclass
class RecoveryReport:
    start: datetime
    end: datetime
    failed: int = 0
    recovered: int = 0
    recovered_by_retry: int = 0
    by_decline_code: list[RecoveryRow] = field(default_factory=list)
    by_attempt: list[RecoveryRow] = field(default_factory=list)
    by_channel: list[RecoveryRow] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.recovered / self.failed if self.failed else 0.0

    @property
    def rate_without_retries(self) -> float:
        """Recovered by the buyer alone, before or without any retry."""
        return (self.recovered - self.recovered_by_retry) / self.failed if self.failed else 0.0

    def as_dict(self) -> dict[str, Any]:
        def rows(items: list[RecoveryRow]) -> list[dict[str, Any]]:
            return [{**asdict(r), "rate": round(r.rate, 4)} for r in items]

        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "failed_orders": self.failed,
            "recovered_orders": self.recovered,
            "recovered_by_retry": self.recovered_by_retry,
            "recovery_rate": round(self.rate, 4),
            "recovery_rate_without_retries": round(self.rate_without_retries, 4),
            "by_decline_code": rows(self.by_decline_code),
            "by_attempt": rows(self.by_attempt),
            "by_channel": rows(self.by_channel),
        }


def recovery_report(
    engine: Engine,
    start: datetime,
    end: datetime,
    only: Callable[[str], bool] | None = None,
) -> RecoveryReport:
    """Recovery figures for the orders whose first failure is in ``[start, end)``
    (and, if given, for which ``only(order_id)`` is true)."""
    cohort = _cohort(engine, start, end)
    if only is not None:
        cohort = {oid: v for oid, v in cohort.items() if only(oid)}
    credited = _credited_retries(engine, list(cohort))
    executed = _executed_retries(engine, list(cohort))
    report = RecoveryReport(start=start, end=end, failed=len(cohort))
    by_code: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for order_id, (code, recovered) in cohort.items():
        by_code[code][0] += 1
        if recovered:
            report.recovered += 1
            by_code[code][1] += 1
            if order_id in credited:
                report.recovered_by_retry += 1
    report.by_decline_code = [
        RecoveryRow(code, n, r)
        for code, (n, r) in sorted(by_code.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    won = {oid: credited[oid] for oid, (_c, ok) in cohort.items() if ok and oid in credited}
    report.by_attempt = [
        RecoveryRow(
            f"retry {n}",
            sum(1 for _, num, _ch in executed if num == n),
            sum(1 for num, _ch in won.values() if num == n),
        )
        for n in (1, 2, 3)
    ]
    report.by_channel = [
        RecoveryRow(
            channel,
            sum(1 for _, _n, ch in executed if ch == channel),
            sum(1 for _n, ch in won.values() if ch == channel),
        )
        for channel in (AttemptChannel.OFF_SESSION.value, AttemptChannel.LINK.value)
    ]
    return report


def _cohort(engine: Engine, start: datetime, end: datetime) -> dict[str, tuple[str, bool]]:
    """order id -> (first failure's decline code, recovered in time)."""
    first = (
        select(
            payment_failures.c.order_id,
            func.min(payment_failures.c.failed_at).label("failed_at"),
        )
        .group_by(payment_failures.c.order_id)
        .subquery()
    )
    query = (
        select(
            first.c.order_id,
            first.c.failed_at,
            orders.c.paid_at,
            orders.c.deadline,
            payment_failures.c.decline_code,
            payment_failures.c.code,
        )
        .join(orders, orders.c.id == first.c.order_id)
        .join(
            payment_failures,
            (payment_failures.c.order_id == first.c.order_id)
            & (payment_failures.c.failed_at == first.c.failed_at),
        )
        .where(first.c.failed_at >= start, first.c.failed_at < end)
        .order_by(payment_failures.c.id)
    )
    cohort: dict[str, tuple[str, bool]] = {}
    with engine.connect().execution_options(read_only=True) as conn:
        for row in conn.execute(query):
            paid = row.paid_at is not None and row.paid_at <= row.deadline
            code = row.decline_code or row.code or "unknown"
            cohort.setdefault(row.order_id, (code, paid))
    return cohort


def _credited_retries(engine: Engine, order_ids: list[str]) -> dict[str, tuple[int, str]]:
    """order id -> (retry number, channel) of the retry whose order attempt was paid."""
    query = (
        select(retry_attempts.c.order_id, retry_attempts.c.number, retry_attempts.c.channel)
        .join(
            attempts,
            (attempts.c.order_id == retry_attempts.c.order_id)
            & (attempts.c.attempt == retry_attempts.c.order_attempt),
        )
        .where(attempts.c.status == AttemptStatus.PAID, retry_attempts.c.status == RetryStatus.DONE)
    )
    return {
        row.order_id: (row.number, row.channel)
        for chunk in _chunks(order_ids)
        for row in _rows(engine, query.where(retry_attempts.c.order_id.in_(chunk)))
    }


def _executed_retries(engine: Engine, order_ids: list[str]) -> list[tuple[str, int, str]]:
    query = select(retry_attempts.c.order_id, retry_attempts.c.number, retry_attempts.c.channel)
    query = query.where(retry_attempts.c.status == RetryStatus.DONE)
    return [
        (row.order_id, row.number, row.channel)
        for chunk in _chunks(order_ids)
        for row in _rows(engine, query.where(retry_attempts.c.order_id.in_(chunk)))
    ]


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _rows(engine: Engine, query: Any) -> list[Any]:
    with engine.connect().execution_options(read_only=True) as conn:
        return list(conn.execute(query))


def write_recovery_report(
    report: RecoveryReport, out_dir: Path, reports_dir: Path, generated_at: datetime
) -> tuple[Path, Path]:
    """Write ``retries-<from>-<to>.html`` and ``.csv`` into ``out_dir``; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"retries-{report.start:%Y%m%d}-{report.end:%Y%m%d}"
    env = environment(reports_dir / "retries", strict=False)
    html = env.get_template("recovery.html.j2").render(
        report=report, figures=report.as_dict(), generated_at=generated_at
    )
    html_path, csv_path = out_dir / f"{stem}.html", out_dir / f"{stem}.csv"
    html_path.write_text(html, encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["section", "label", "failed_or_executed", "recovered", "rate"])
        writer.writerow(["total", "all", report.failed, report.recovered, f"{report.rate:.4f}"])
        writer.writerow(
            [
                "total",
                "without_retries",
                report.failed,
                report.recovered - report.recovered_by_retry,
                f"{report.rate_without_retries:.4f}",
            ]
        )
        for section, rows in (
            ("decline_code", report.by_decline_code),
            ("attempt", report.by_attempt),
            ("channel", report.by_channel),
        ):
            for row in rows:
                writer.writerow([section, row.label, row.failed, row.recovered, f"{row.rate:.4f}"])
    return html_path, csv_path


def plan_view(engine: Engine, order_id: str) -> dict[str, Any]:
    """The order's plan and attempts, for support (CLI and API)."""
    with engine.connect().execution_options(read_only=True) as conn:
        plan = (
            conn.execute(select(retry_plans).where(retry_plans.c.order_id == order_id))
            .mappings()
            .first()
        )
        rows = conn.execute(
            select(retry_attempts)
            .where(retry_attempts.c.order_id == order_id)
            .order_by(retry_attempts.c.number)
        ).mappings()
        attempt_list = [
            {
                "number": r["number"],
                "kind": r["kind"],
                "due_at": r["due_at"].isoformat(),
                "status": r["status"],
                "reason": r["reason"],
                "channel": r["channel"],
                "outcome": r["outcome"],
                "decline_code": r["decline_code"],
                "stripe_errors": r["stripe_errors"],
                "manual": r["manual"],
                "executed_at": r["executed_at"].isoformat() if r["executed_at"] else None,
            }
            for r in rows
        ]
    if plan is None:
        return {"order_id": order_id, "plan": None, "attempts": []}
    summary = {
        "status": plan["status"],
        "decline_code": plan["decline_code"] or plan["code"],
        "decline_class": plan["decline_class"],
        "first_failed_at": plan["first_failed_at"].isoformat(),
        "close_reason": plan["close_reason"],
    }
    return {"order_id": order_id, "plan": summary, "attempts": attempt_list}
