"""Each status StrEnum is exactly the vocabulary the schema enforces (migration 0006's CHECK
constraints on PostgreSQL, its triggers on SQLite): the lists are read from the migration,
and the live database takes every code of the enum and refuses any other."""

from __future__ import annotations

import importlib
import re
from datetime import timedelta
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import Engine, Table, insert, update
from sqlalchemy.exc import IntegrityError

from paywindow.inbox.processor import EventStatus
from paywindow.payments.facts import AttemptStatus, DisputeStatus
from paywindow.payments.states import OrderState
from paywindow.retries.states import PlanStatus, RetryStatus
from paywindow.store.tables import attempts, event_log, orders, retry_attempts, retry_plans
from tests.factories import NOW, open_order

_migration = importlib.import_module("paywindow.store.migrations.versions.0006_invariants")

#: (CHECK constraint, table, column, the enum that must list exactly its codes)
VOCABULARIES: list[tuple[str, Table, str, type[StrEnum]]] = [
    ("ck_orders_state", orders, "state", OrderState),
    ("ck_orders_dispute_status", orders, "dispute_status", DisputeStatus),
    ("ck_attempts_status", attempts, "status", AttemptStatus),
    ("ck_event_log_status", event_log, "status", EventStatus),
    ("ck_retry_attempts_status", retry_attempts, "status", RetryStatus),
    ("ck_retry_plans_status", retry_plans, "status", PlanStatus),
]


def _codes(check: str) -> list[str]:
    """The quoted codes in the ``IN (...)`` list of one of the migration's conditions."""
    (condition,) = [c for _table, name, c in _migration.CHECKS if name == check]
    (listed,) = re.findall(r"\bIN \(([^)]*)\)", condition)
    return re.findall(r"'([^']*)'", listed)


def _row(engine: Engine, table: Table) -> tuple[Any, ...]:
    """A valid row of ``table`` to write codes into; the condition selecting it."""
    oid = open_order(engine)  # an order and its attempt 1
    if table is orders:
        return (orders.c.id == oid,)
    if table is attempts:
        return (attempts.c.order_id == oid,)
    with engine.begin() as conn:
        if table is event_log:
            event_id = f"evt_{oid}"
            conn.execute(
                insert(event_log).values(
                    event_id=event_id,
                    type="checkout.session.completed",
                    created=0,
                    livemode=False,
                    body=b"{}",
                    headers="{}",
                    received_at=NOW,
                    source="test",
                    status=EventStatus.PENDING,
                    attempts=0,
                )
            )
            return (event_log.c.event_id == event_id,)
        if table is retry_plans:
            conn.execute(
                insert(retry_plans).values(
                    order_id=oid,
                    status=PlanStatus.OPEN,
                    first_failed_at=NOW,
                    failure_key="pi_1:ch_1",
                    decline_class="soft",
                    opened_at=NOW,
                )
            )
            return (retry_plans.c.order_id == oid,)
        conn.execute(
            insert(retry_attempts).values(
                order_id=oid,
                number=1,
                kind="retry",
                due_at=NOW + timedelta(hours=1),
                status=RetryStatus.SCHEDULED,
                stripe_errors=0,
                manual=False,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        return (retry_attempts.c.order_id == oid,)


@pytest.mark.parametrize(
    ("check", "table", "column", "enum"), VOCABULARIES, ids=[v[0] for v in VOCABULARIES]
)
def test_each_status_enum_is_the_vocabulary_the_schema_enforces(
    engine: Engine, check: str, table: Table, column: str, enum: type[StrEnum]
) -> None:
    codes = _codes(check)
    assert len(codes) == len(set(codes))
    assert sorted(member.value for member in enum) == sorted(codes)
    where = _row(engine, table)
    for member in enum:
        with engine.begin() as conn:
            conn.execute(update(table).where(*where).values({column: member}))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(update(table).where(*where).values({column: "not_a_code"}))
