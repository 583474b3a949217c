"""The order lease: one conversation with Stripe about an order at a time.

Design: opening or reopening checkout, a retry (link or off-session charge) and anything else
that creates a session, a charge or a refund for an order first takes the order's lease — a
conditional UPDATE of ``orders.busy_by/busy_with/busy_until`` that at most one caller wins, on
SQLite and PostgreSQL alike — and gives it back when done. The lease is held across the Stripe
call without holding a database transaction open (a slow Stripe never blocks the single SQLite
writer). Inside it the caller re-reads the order, so what it decides is decided on fresh facts.
A lease whose holder died lapses at ``busy_until``; its Stripe calls carry idempotency keys of
the order attempt, so whoever takes over sends the same requests.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, update

from paywindow.errors import Conflict, NotFound
from paywindow.store.tables import orders

__all__ = ["DEFAULT_TTL", "Lease", "OrderBusy", "new_holder", "order_lease"]

#: Longer than any Stripe call with its retries; a dead holder's lease lapses after it.
DEFAULT_TTL = timedelta(minutes=10)


class OrderBusy(Conflict):
    """Another caller holds the order's lease; ``doing`` says what it is doing."""

    def __init__(self, order_id: str, doing: str | None, until: datetime | None) -> None:
        super().__init__(f"order {order_id}: {doing or 'another request'} is running now")
        self.order_id = order_id
        self.doing = doing
        self.until = until


@dataclass
class Lease:
    """A held order lease. :meth:`values` stamps it on a new order row (taken with the insert);
    :meth:`release_in` gives it back inside the caller's last transaction (the caller sets
    ``released`` once that transaction committed), so holding the lease costs no commit of its
    own on the hot path."""

    order_id: str
    holder: str
    doing: str
    released: bool = False

    def values(self, now: datetime, ttl: timedelta = DEFAULT_TTL) -> dict[str, Any]:
        return {"busy_by": self.holder, "busy_with": self.doing[:255], "busy_until": now + ttl}

    def release_in(self, conn: Connection) -> None:
        conn.execute(
            update(orders)
            .where(orders.c.id == self.order_id, orders.c.busy_by == self.holder)
            .values(busy_by=None, busy_with=None, busy_until=None)
        )


def new_holder(doing: str) -> str:
    return f"{doing.split(' ', 1)[0]}-{uuid.uuid4().hex[:12]}"


def _take(
    engine: Engine, order_id: str, holder: str, doing: str, now: datetime, ttl: timedelta
) -> bool:
    free = or_(orders.c.busy_until.is_(None), orders.c.busy_until < now, orders.c.busy_by == holder)
    with engine.begin() as conn:
        won = conn.execute(
            update(orders)
            .where(and_(orders.c.id == order_id, free))
            .values(busy_by=holder, busy_with=doing[:255], busy_until=now + ttl)
        )
        if won.rowcount == 1:
            return True
        row = conn.execute(select(orders.c.id).where(orders.c.id == order_id)).first()
    if row is None:
        raise NotFound(f"no order {order_id}")
    return False


def _holder(engine: Engine, order_id: str) -> tuple[str | None, datetime | None]:
    with engine.connect().execution_options(read_only=True) as conn:
        row = conn.execute(
            select(orders.c.busy_with, orders.c.busy_until).where(orders.c.id == order_id)
        ).first()
    return (row.busy_with, row.busy_until) if row is not None else (None, None)


def _give_back(engine: Engine, order_id: str, holder: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(orders)
            .where(orders.c.id == order_id, orders.c.busy_by == holder)
            .values(busy_by=None, busy_with=None, busy_until=None)
        )


@contextmanager
def order_lease(
    engine: Engine,
    order_id: str,
    doing: str,
    now: datetime,
    *,
    wait: float = 0.0,
    ttl: timedelta = DEFAULT_TTL,
    poll: float = 0.05,
    held: Lease | None = None,
) -> Iterator[Lease]:
    """Hold the order's lease for the block.

    ``wait`` is how many (real) seconds to wait for a busy order before raising
    :class:`OrderBusy`; 0 refuses at once. ``now`` stamps the lease in paywindow's clock.
    ``held`` is a lease the caller already took (with the order's insert). The lease is given
    back when the block ends, unless the block released it in its own transaction.
    """
    lease = held or Lease(order_id, new_holder(doing), doing)
    give_up = time.monotonic() + wait
    while held is None and not _take(engine, order_id, lease.holder, doing, now, ttl):
        if time.monotonic() >= give_up:
            busy_with, until = _holder(engine, order_id)
            raise OrderBusy(order_id, busy_with, until)
        time.sleep(poll)
    try:
        yield lease
    finally:
        if not lease.released:
            _give_back(engine, order_id, lease.holder)
