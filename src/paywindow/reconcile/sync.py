"""``paywindow ledger sync``: an incremental, idempotent pull of Stripe's ledger into Parquet.

Each resource keeps a cursor (``ledger_cursors.created_through``, the newest ``created`` seen).
A sync lists objects created at or after ``cursor - overlap``: the overlap re-reads recent
objects whose status may have changed since (a charge settling, a payout arriving) and those
that became visible late. Rows are merged by id (:func:`paywindow.reconcile.ledger.write_rows`),
so re-reading is harmless, and the cursor is advanced only after the rows are on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import stripe
from sqlalchemy import Engine, insert, select, update

from paywindow.gateway.ledger import LEDGER_RESOURCES, list_created_since, payout_transaction_ids
from paywindow.reconcile.ledger import flatten, write_rows
from paywindow.store.tables import ledger_cursors

__all__ = ["SyncReport", "read_cursor", "save_cursor", "sync_ledger"]


@dataclass
class SyncReport:
    """Rows written per table, and the window each resource was read from (unix seconds)."""

    rows: dict[str, int] = field(default_factory=dict)
    started_from: dict[str, int] = field(default_factory=dict)


def read_cursor(engine: Engine, resource: str) -> int | None:
    with engine.connect() as conn:
        value = conn.execute(
            select(ledger_cursors.c.created_through).where(ledger_cursors.c.resource == resource)
        ).scalar_one_or_none()
    return None if value is None else int(value)


def save_cursor(
    engine: Engine, resource: str, created_through: int, rows: int, now: datetime
) -> None:
    """Advance (never move back) the cursor of ``resource``."""
    with engine.begin() as conn:
        old = conn.execute(
            select(ledger_cursors.c.created_through).where(ledger_cursors.c.resource == resource)
        ).scalar_one_or_none()
        if old is None:
            conn.execute(
                insert(ledger_cursors).values(
                    resource=resource, created_through=created_through, synced_at=now, rows=rows
                )
            )
            return
        conn.execute(
            update(ledger_cursors)
            .where(ledger_cursors.c.resource == resource)
            .values(
                created_through=max(int(old), created_through),
                synced_at=now,
                rows=ledger_cursors.c.rows + rows,
            )
        )


def _start(engine: Engine, resource: str, since: datetime | None, overlap: timedelta) -> int:
    if since is not None:
        return int(since.timestamp())
    cursor = read_cursor(engine, resource)
    return 0 if cursor is None else max(0, cursor - int(overlap.total_seconds()))


def _payout_items(
    client: stripe.StripeClient, payouts: list[dict[str, Any]], now: datetime
) -> Iterator[dict[str, Any]]:
    for payout in payouts:
        for txn_id in payout_transaction_ids(client, str(payout["id"])):
            item = {"id": f"{payout['id']}:{txn_id}", "created": payout["created"]}
            item |= {"payout": payout["id"], "balance_transaction": txn_id}
            yield flatten("payout_items", item, now)


def sync_ledger(
    engine: Engine,
    client: stripe.StripeClient,
    data_dir: Path,
    *,
    now: datetime,
    overlap: timedelta,
    since: datetime | None = None,
    resources: Iterable[str] = LEDGER_RESOURCES,
    progress: Callable[[str, int], None] | None = None,
) -> SyncReport:
    """Pull every resource from its cursor (or ``since``) into Parquet under ``data_dir``."""
    report = SyncReport()
    for resource in resources:
        start = _start(engine, resource, since, overlap)
        report.started_from[resource] = start
        objects = list(list_created_since(client, resource, start))
        rows = [flatten(resource, obj, now) for obj in objects]
        report.rows[resource] = write_rows(data_dir, resource, rows)
        if resource == "payouts":
            items = list(_payout_items(client, objects, now))
            report.rows["payout_items"] = write_rows(data_dir, "payout_items", items)
        newest = max((int(obj["created"]) for obj in objects), default=start)
        save_cursor(engine, resource, newest, len(rows), now)
        if progress is not None:
            progress(resource, len(rows))
    return report
