"""server errors: every 5xx answer, for the server-errors alert

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "server_errors",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("correlation_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=255), nullable=False),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_errors")),
    )
    op.create_index("ix_server_errors_at", "server_errors", ["at"])


def downgrade() -> None:
    op.drop_index("ix_server_errors_at", table_name="server_errors")
    op.drop_table("server_errors")
