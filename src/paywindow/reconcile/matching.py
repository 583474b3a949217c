"""Matching: DuckDB runs the SQL in ``sql/reconcile/`` over the ledger and the local snapshot.

Design. Both sides become DuckDB relations with fixed names: the ledger tables are views over
their Parquet partitions (an empty Arrow table when nothing is synced yet), the snapshot's
Arrow tables are registered as ``orders`` and ``attempts`` (zero-copy; local rows already in
Parquet can be registered with :func:`register_parquet` instead). DuckDB scans them in place
and only the findings, a few rows, come back into Python. Each ``*_findings.sql`` file returns
rows of one shape (kind, order_id, stripe_id, currency, local_amount, stripe_amount, detail,
occurred_at, due_at); a row whose ``due_at`` is still ahead of ``as_of`` is *expected* (inside
its settlement SLA), not a finding. Values only ever reach SQL as bound ``$name`` parameters.

A finding's identity is its fingerprint (kind + order + Stripe id), so a rerun over the same
period recognises findings it has already reported.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from paywindow.money import Money
from paywindow.reconcile.amounts import format_amount
from paywindow.reconcile.ledger import TABLES, empty_table, ledger_files

if TYPE_CHECKING:  # the snapshot module pulls in SQLAlchemy; matching alone does not need it
    from paywindow.reconcile.snapshot import LocalSnapshot

__all__ = [
    "FINDING_KINDS",
    "FINDING_QUERIES",
    "Finding",
    "FindingKind",
    "Slas",
    "as_money",
    "connect",
    "find",
    "query",
    "register_ledger",
    "register_parquet",
    "register_snapshot",
]


class FindingKind(StrEnum):
    """What a finding says is wrong; the order is the order findings are reported in."""

    MISSING_IN_STRIPE = "missing_in_stripe"
    MISSING_LOCALLY = "missing_locally"
    AMOUNT_OVER = "amount_over"
    AMOUNT_UNDER = "amount_under"
    CURRENCY_MISMATCH = "currency_mismatch"
    FEE_MISMATCH = "fee_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    DUPLICATE_CHARGE = "duplicate_charge"
    LATE_PAYMENT_NOT_REFUNDED = "late_payment_not_refunded"
    PAYOUT_UNEXPLAINED = "payout_unexplained"


#: Every finding kind's code, in report order.
FINDING_KINDS: tuple[str, ...] = tuple(kind.value for kind in FindingKind)
FINDING_QUERIES: tuple[str, ...] = ("charge_findings", "refund_findings", "payout_findings")
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


@dataclass(frozen=True)
class Slas:
    """How long each kind of lag is normal before a discrepancy becomes a finding."""

    webhook: timedelta = timedelta(hours=6)
    sync: timedelta = timedelta(hours=1)
    refund: timedelta = timedelta(hours=1)

    def params(self) -> dict[str, int]:
        return {
            "webhook_sla_s": int(self.webhook.total_seconds()),
            "sync_sla_s": int(self.sync.total_seconds()),
            "refund_sla_s": int(self.refund.total_seconds()),
        }


class Amounts:
    """Both sides' amounts of a finding as Money in its currency (None when a side has none)."""

    local_amount: int | None
    stripe_amount: int | None
    currency: str | None

    @property
    def local_money(self) -> Money | None:
        """The amount paywindow holds, as Money."""
        return as_money(self.local_amount, self.currency)

    @property
    def stripe_money(self) -> Money | None:
        """The amount Stripe holds, as Money."""
        return as_money(self.stripe_amount, self.currency)


@dataclass(frozen=True)
class Finding(Amounts):
    """One discrepancy between Stripe and paywindow, with the facts on both sides."""

    kind: FindingKind
    order_id: str | None
    stripe_id: str | None
    currency: str | None
    #: integer minor units of ``currency``, as the queries return them (see :attr:`local_money`)
    local_amount: int | None
    stripe_amount: int | None
    detail: str | None
    occurred_at: datetime | None
    due_at: datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", FindingKind(self.kind))

    @property
    def fingerprint(self) -> str:
        key = f"{self.kind}|{self.order_id or ''}|{self.stripe_id or ''}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    @property
    def explanation(self) -> str:
        return explain(self)


def as_money(amount: int | None, currency: str | None) -> Money | None:
    """A stored amount column and its currency column as Money; None if either is missing."""
    if amount is None or currency is None:
        return None
    return Money(int(amount), currency)


def connect(*, memory_limit: str = "2GB", threads: int = 2) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never installs or downloads extensions."""
    con = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "memory_limit": memory_limit,
            "threads": threads,
            # results are sorted where order matters; not keeping scan order saves memory
            "preserve_insertion_order": False,
        }
    )
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def register_parquet(con: duckdb.DuckDBPyConnection, name: str, files: list[str]) -> None:
    """Expose Parquet ``files`` as the relation ``name``, scanned in place by each query."""
    con.read_parquet(files, hive_partitioning=False).create_view(name, replace=True)


def register_ledger(con: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    """Expose every ledger table as a relation over its Parquet partitions."""
    for table in TABLES:
        files = ledger_files(data_dir, table)
        if files:
            register_parquet(con, table, files)
        else:
            con.register(table, empty_table(table))


def register_snapshot(con: duckdb.DuckDBPyConnection, snapshot: LocalSnapshot) -> None:
    con.register("orders", snapshot.orders)
    con.register("attempts", snapshot.attempts)


def query(
    con: duckdb.DuckDBPyConnection, sql_dir: Path, name: str, params: dict[str, Any]
) -> pa.Table:
    """Run ``sql_dir/<name>.sql`` with the parameters it names, as an Arrow table."""
    return _whole_sums(_relation(con, sql_dir, name, params).to_arrow_table())


def _relation(
    con: duckdb.DuckDBPyConnection, sql_dir: Path, name: str, params: dict[str, Any]
) -> duckdb.DuckDBPyRelation:
    text = (sql_dir / f"{name}.sql").read_text(encoding="utf-8")
    needed = {m.group(1) for m in _PARAM.finditer(text)}
    missing = needed - params.keys()
    if missing:
        raise KeyError(f"{name}.sql needs parameters {sorted(missing)}")
    return con.sql(text, params={k: params[k] for k in needed})


def _findings(
    con: duckdb.DuckDBPyConnection, sql_dir: Path, name: str, params: dict[str, Any]
) -> list[Finding]:
    """The query's rows as Findings, fetched as Python values (HUGEINT sums are ints already)."""
    relation = _relation(con, sql_dir, name, params)
    columns = relation.columns
    return [Finding(**dict(zip(columns, row, strict=True))) for row in relation.fetchall()]


def _whole_sums(table: pa.Table) -> pa.Table:
    """DuckDB widens ``sum(BIGINT)`` to HUGEINT (Arrow decimal); money stays int64."""
    for i, column in enumerate(table.schema):
        if pa.types.is_decimal(column.type) and column.type.scale == 0:
            table = table.set_column(i, column.name, table.column(i).cast(pa.int64()))
    return table


def find(
    con: duckdb.DuckDBPyConnection,
    sql_dir: Path,
    *,
    period_from: datetime,
    period_to: datetime,
    as_of: datetime,
    slas: Slas,
) -> tuple[list[Finding], list[Finding]]:
    """``(findings, expected)`` for the period, judged at ``as_of``."""
    params: dict[str, Any] = {"period_from": period_from, "period_to": period_to}
    params |= slas.params()
    findings: list[Finding] = []
    expected: list[Finding] = []
    for name in FINDING_QUERIES:
        for item in _findings(con, sql_dir, name, params):
            late = item.due_at is not None and item.due_at > as_of
            (expected if late else findings).append(item)
    order = {kind: n for n, kind in enumerate(FindingKind)}
    findings.sort(key=lambda f: (order[f.kind], f.order_id or "", f.stripe_id or ""))
    return findings, expected


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "an unknown time"


def explain(f: Finding) -> str:
    """The finding in plain words, for finance."""
    local = format_amount(f.local_amount, f.currency)
    stripe = format_amount(f.stripe_amount, f.currency)
    diff = format_amount(abs((f.stripe_amount or 0) - (f.local_amount or 0)), f.currency)
    o, s = f.order_id, f.stripe_id
    refund = f.detail == "refund"
    texts = {
        "missing_in_stripe": (
            f"Order {o} shows {local} refunded here, but Stripe has no refund on charge {s}."
            if refund
            else f"Order {o} was paid here ({local}) at {_when(f.occurred_at)}, "
            "but Stripe has no succeeded charge for it."
        ),
        "missing_locally": f"Stripe charge {s} took {stripe} for order {o}, but that order is "
        + ("unknown here" if f.detail == "no order" else "not paid here")
        + ": a webhook was probably missed.",
        "amount_over": (
            f"Stripe refunded {stripe} for order {o}, {diff} more than the {local} recorded here."
            if refund
            else f"Charge {s} took {stripe}, {diff} more than order {o}'s total of {local}."
        ),
        "amount_under": (
            f"Stripe refunded {stripe} for order {o}, {diff} less than the {local} recorded here."
            if refund
            else f"Charge {s} took {stripe}, {diff} less than order {o}'s total of {local}."
        ),
        "currency_mismatch": f"Charge {s} is in {(f.currency or '').upper()} "
        f"but order {o} is in {(f.detail or '').upper()}.",
        "fee_mismatch": (
            f"Charge {s} carries an application fee of {stripe}; order {o} expects {local}."
            if f.detail == "application fee"
            else f"Charge {s} for order {o} was routed wrongly: {f.detail}."
        ),
        "status_mismatch": (
            f"Order {o} is paid and not refunded here, but Stripe refunded {stripe} ({s})."
            if f.detail == "refunded"
            else f"Order {o}: {f.detail} (dispute {s})."
        ),
        "duplicate_charge": f"Order {o} was charged twice: {s} ({stripe}) besides {f.detail}; "
        "the extra charge has not been refunded.",
        "late_payment_not_refunded": f"Order {o} was paid at {_when(f.occurred_at)}, after its "
        f"deadline ({f.detail}), and charge {s} ({stripe}) has not been fully refunded.",
        "payout_unexplained": f"Payout {s} of {stripe} does not match its balance transactions, "
        f"which add up to {local} ({f.detail}); {diff} is unexplained.",
    }
    return texts[f.kind]
