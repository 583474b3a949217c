"""failed-payment retries: one plan per order and its (at most three) attempts

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "retry_plans",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_failed_at", _TS, nullable=False),
        sa.Column("failure_key", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("decline_code", sa.String(length=64), nullable=True),
        sa.Column("advice_code", sa.String(length=64), nullable=True),
        sa.Column("decline_class", sa.String(length=16), nullable=False),
        sa.Column("hard_declined_at", _TS, nullable=True),
        sa.Column("opened_at", _TS, nullable=False),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("close_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_retry_plans_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_retry_plans")),
    )
    op.create_index("ix_retry_plans_status", "retry_plans", ["status"], unique=False)
    op.create_index(
        "ix_retry_plans_first_failed_at", "retry_plans", ["first_failed_at"], unique=False
    )
    op.create_table(
        "retry_attempts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("order_attempt", sa.Integer(), nullable=True),
        sa.Column("payment_intent", sa.String(length=255), nullable=True),
        sa.Column("payment_method", sa.String(length=255), nullable=True),
        sa.Column("session_id", sa.String(length=255), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("decline_code", sa.String(length=64), nullable=True),
        sa.Column("stripe_errors", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("executed_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_retry_attempts_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retry_attempts")),
        sa.UniqueConstraint("order_id", "number", name="uq_retry_attempts_order_id"),
    )
    op.create_index("ix_retry_attempts_due", "retry_attempts", ["status", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_retry_attempts_due", table_name="retry_attempts")
    op.drop_table("retry_attempts")
    op.drop_index("ix_retry_plans_first_failed_at", table_name="retry_plans")
    op.drop_index("ix_retry_plans_status", table_name="retry_plans")
    op.drop_table("retry_plans")
