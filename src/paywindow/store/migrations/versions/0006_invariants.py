"""money invariants in the schema: vocabularies, amount bounds, one running attempt per order,
the order lease and payments held for review

Revision ID: 0006
Revises: 0005

PostgreSQL gets CHECK constraints. SQLite cannot add a CHECK to an existing table without
copying it (which foreign keys forbid inside a transaction), so there the same conditions are
triggers that abort the offending INSERT or UPDATE. Both refuse exactly the same rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)

_ORDER_STATES = (
    "awaiting_payment",
    "processing",
    "payment_failed",
    "paid",
    "expired",
    "late_payment_refunded",
    "partially_refunded",
    "refunded",
    "disputed",
    "dispute_won",
    "dispute_lost",
    "payment_mismatch",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


#: (table, constraint name, condition every row must meet)
CHECKS: tuple[tuple[str, str, str], ...] = (
    ("orders", "ck_orders_state", _in("state", _ORDER_STATES)),
    ("orders", "ck_orders_amount_total", "amount_total > 0"),
    (
        "orders",
        "ck_orders_application_fee",
        "application_fee_amount >= 0 AND application_fee_amount <= amount_total",
    ),
    (
        "orders",
        "ck_orders_amount_refunded",
        "amount_refunded >= 0 AND (amount_charged IS NULL OR amount_refunded <= amount_charged)",
    ),
    ("orders", "ck_orders_currency", "length(currency) = 3 AND currency = lower(currency)"),
    (
        "orders",
        "ck_orders_dispute_status",
        "dispute_status IS NULL OR " + _in("dispute_status", ("none", "open", "won", "lost")),
    ),
    (
        "attempts",
        "ck_attempts_status",
        _in("status", ("open", "expired", "processing", "failed", "paid")),
    ),
    (
        "event_log",
        "ck_event_log_status",
        _in("status", ("pending", "applied", "ignored", "failed")),
    ),
    (
        "retry_attempts",
        "ck_retry_attempts_status",
        _in("status", ("scheduled", "running", "done", "dropped", "cancelled")),
    ),
    ("retry_plans", "ck_retry_plans_status", _in("status", ("open", "closed"))),
)


def upgrade() -> None:
    with op.batch_alter_table("orders", recreate="never") as batch:
        batch.add_column(sa.Column("held_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("busy_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("busy_with", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("busy_until", _TS, nullable=True))
    op.create_index(
        "uq_retry_attempts_running",
        "retry_attempts",
        ["order_id"],
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_index("uq_attempts_order_attempt", "attempts", ["order_id", "attempt"], unique=True)
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, name, condition in CHECKS:
        if sqlite:
            for event in ("INSERT", "UPDATE"):
                op.execute(
                    f"CREATE TRIGGER {name}_{event.lower()} BEFORE {event} ON {table} "
                    f"WHEN NOT ({_new(condition, table)}) "
                    f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
                )
        else:
            op.create_check_constraint(name, table, condition)


def _new(condition: str, table: str) -> str:
    """The condition over the row being written (``NEW.column``) for a SQLite trigger."""
    columns = {
        "orders": (
            "state",
            "amount_total",
            "application_fee_amount",
            "amount_refunded",
            "amount_charged",
            "currency",
            "dispute_status",
        ),
        "attempts": ("status",),
        "event_log": ("status",),
        "retry_attempts": ("status",),
        "retry_plans": ("status",),
    }[table]
    out = condition
    for column in sorted(columns, key=len, reverse=True):
        out = _replace_word(out, column, f"NEW.{column}")
    return out


def _replace_word(text: str, word: str, replacement: str) -> str:
    import re

    return re.sub(rf"(?<![\w.']){word}(?![\w'])", replacement, text)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, name, _condition in reversed(CHECKS):
        if sqlite:
            for event in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {name}_{event}")
        else:
            op.drop_constraint(name, table, type_="check")
    op.drop_index("uq_attempts_order_attempt", table_name="attempts")
    op.drop_index("uq_retry_attempts_running", table_name="retry_attempts")
    with op.batch_alter_table("orders", recreate="never") as batch:
        batch.drop_column("busy_until")
        batch.drop_column("busy_with")
        batch.drop_column("busy_by")
        batch.drop_column("held_reason")
