"""No buyer email in database error text or in what SQLAlchemy logs.

The engine hides bound parameters at the source, so it holds whatever handler listens
(Prefect's, which does not redact, included); paywindow's own handler also masks emails
(``test_logs.py``).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from paywindow.store.tables import orders
from tests.factories import NOW

EMAIL = "jane.doe+vinyl@example.com"


def _order(order_id: str) -> dict[str, Any]:
    return {
        "id": order_id,
        "state": "awaiting_payment",
        "currency": "usd",
        "amount_total": 2500,
        "application_fee_amount": 300,
        "seller_account": "acct_seller",
        "buyer_id": "u_9",
        "buyer_email": EMAIL,
        "deadline": NOW + timedelta(hours=24),
        "current_attempt": 1,
        "amount_refunded": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _insert_twice(engine: Engine, order_id: str) -> IntegrityError:
    with engine.begin() as conn:
        conn.execute(insert(orders).values(_order(order_id)))
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        conn.execute(insert(orders).values(_order(order_id)))
    return caught.value


@pytest.fixture
def engine_log() -> Iterator[io.StringIO]:
    """What ``sqlalchemy.engine`` logs at INFO (statements and their parameters), unredacted."""
    logger = logging.getLogger("sqlalchemy.engine")
    level = logger.level
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield buffer
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_database_error_carries_no_bound_parameters(engine: Engine) -> None:
    error = _insert_twice(engine, "ord_pii_twice")
    assert "INSERT INTO orders" in str(error)
    assert EMAIL not in str(error)
    assert "parameters hidden" in str(error)


def test_a_database_error_does_not_quote_the_failing_row(engine: Engine) -> None:
    """PostgreSQL's ``DETAIL: Failing row contains (...)`` is the row's values again (``bytea``
    bodies hex-encoded, out of any redaction's reach): the engine keeps the primary message."""
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        conn.execute(insert(orders).values({**_order("ord_pii_null"), "buyer_id": None}))
    assert "buyer_id" in str(caught.value)
    assert EMAIL not in str(caught.value)
    assert EMAIL not in str(caught.value.orig)


def test_the_engine_log_carries_no_bound_parameters(
    engine: Engine, engine_log: io.StringIO
) -> None:
    _insert_twice(engine, "ord_pii_logged")
    logged = engine_log.getvalue()
    assert "INSERT INTO orders" in logged, "the engine logged no statement: nothing was tested"
    assert EMAIL not in logged
