"""receipts: receipt jobs and documents, their stored versions, numbering counters

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "receipt_counters",
        sa.Column("series", sa.String(length=32), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series", name=op.f("pk_receipt_counters")),
    )
    op.create_table(
        "receipts",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("refunded_to", sa.BigInteger(), nullable=False),
        sa.Column("series", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("original_number", sa.String(length=32), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", _Ts, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("target_version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _Ts, nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", _Ts, nullable=True),
        sa.Column("object_key", sa.String(length=255), nullable=False),
        sa.Column("version_id", sa.String(length=255), nullable=True),
        sa.Column("etag", sa.String(length=255), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("stored_at", _Ts, nullable=True),
        sa.Column("rerender_reason", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_traceback", sa.Text(), nullable=True),
        sa.Column("created_at", _Ts, nullable=False),
        sa.Column("updated_at", _Ts, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_receipts_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        sa.UniqueConstraint("number", name="uq_receipts_number"),
        sa.UniqueConstraint("order_id", "kind", "refunded_to", name="uq_receipts_order_id"),
        sa.UniqueConstraint("series", "seq", name="uq_receipts_series"),
    )
    op.create_index("ix_receipts_due", "receipts", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "receipt_versions",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("receipt_id", _Id, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("object_key", sa.String(length=255), nullable=False),
        sa.Column("version_id", sa.String(length=255), nullable=True),
        sa.Column("etag", sa.String(length=255), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("stored_at", _Ts, nullable=False),
        sa.ForeignKeyConstraint(
            ["receipt_id"], ["receipts.id"], name=op.f("fk_receipt_versions_receipt_id_receipts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_versions")),
        sa.UniqueConstraint("receipt_id", "version", name="uq_receipt_versions_receipt_id"),
    )
    op.create_index("ix_receipts_orders_updated_at", "orders", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_receipts_orders_updated_at", table_name="orders")
    op.drop_table("receipt_versions")
    op.drop_index("ix_receipts_due", table_name="receipts")
    op.drop_table("receipts")
    op.drop_table("receipt_counters")
