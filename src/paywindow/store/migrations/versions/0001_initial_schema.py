"""create event log, orders, attempts, failures, transitions

Revision ID: 0001
Revises:
Create Date: 2026-11-28 12:05:20.530785
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "event_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("api_version", sa.String(length=64), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_on", sa.String(length=255), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_traceback", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_log")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_log_event_id")),
    )
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.create_index("ix_event_log_received_at", ["received_at"], unique=False)
        batch_op.create_index(
            "ix_event_log_status_next", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index("ix_event_log_waiting_on", ["waiting_on"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_total", sa.BigInteger(), nullable=False),
        sa.Column("application_fee_amount", sa.BigInteger(), nullable=False),
        sa.Column("seller_account", sa.String(length=255), nullable=False),
        sa.Column("buyer_id", sa.String(length=255), nullable=False),
        sa.Column("buyer_email", sa.String(length=320), nullable=True),
        sa.Column("customer", sa.String(length=255), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_attempt", sa.Integer(), nullable=False),
        sa.Column("window_closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_intent", sa.String(length=255), nullable=True),
        sa.Column("charge", sa.String(length=255), nullable=True),
        sa.Column("amount_charged", sa.BigInteger(), nullable=True),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("dispute", sa.String(length=255), nullable=True),
        sa.Column("dispute_status", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_table(
        "attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=True),
        sa.Column("payment_intent", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_attempts_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("payment_intent", name=op.f("uq_attempts_payment_intent")),
        sa.UniqueConstraint("session_id", name=op.f("uq_attempts_session_id")),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_order", ["order_id", "attempt"], unique=False)

    op.create_table(
        "order_transitions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=False),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_transitions_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_transitions")),
    )
    with op.batch_alter_table("order_transitions", schema=None) as batch_op:
        batch_op.create_index("ix_order_transitions_order", ["order_id", "id"], unique=False)

    op.create_table(
        "payment_failures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("failure_key", sa.String(length=255), nullable=False),
        sa.Column("payment_intent", sa.String(length=255), nullable=True),
        sa.Column("charge", sa.String(length=255), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("decline_code", sa.String(length=64), nullable=True),
        sa.Column("advice_code", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_payment_failures_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_failures")),
        sa.UniqueConstraint("failure_key", name="uq_payment_failures_failure_key"),
    )
    with op.batch_alter_table("payment_failures", schema=None) as batch_op:
        batch_op.create_index("ix_payment_failures_order", ["order_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("payment_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_failures_order")

    op.drop_table("payment_failures")
    with op.batch_alter_table("order_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_order_transitions_order")

    op.drop_table("order_transitions")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_order")

    op.drop_table("attempts")
    op.drop_table("orders")
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.drop_index("ix_event_log_waiting_on")
        batch_op.drop_index("ix_event_log_status_next")
        batch_op.drop_index("ix_event_log_received_at")

    op.drop_table("event_log")
