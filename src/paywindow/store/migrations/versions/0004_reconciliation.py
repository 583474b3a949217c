"""reconciliation: ledger sync cursors, runs, findings and their resolutions

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ledger_cursors",
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("created_through", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", _TS, nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("resource", name=op.f("pk_ledger_cursors")),
    )
    op.create_table(
        "reconcile_runs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("period_from", _TS, nullable=False),
        sa.Column("period_to", _TS, nullable=False),
        sa.Column("as_of", _TS, nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_runs")),
    )
    op.create_table(
        "reconcile_findings",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("stripe_id", sa.String(length=255), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("local_amount", sa.BigInteger(), nullable=True),
        sa.Column("stripe_amount", sa.BigInteger(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("occurred_at", _TS, nullable=True),
        sa.Column("first_run_id", _ID, nullable=False),
        sa.Column("last_run_id", _ID, nullable=False),
        sa.Column("first_seen_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["first_run_id"],
            ["reconcile_runs.id"],
            name=op.f("fk_reconcile_findings_first_run_id_reconcile_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["last_run_id"],
            ["reconcile_runs.id"],
            name=op.f("fk_reconcile_findings_last_run_id_reconcile_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_findings")),
        sa.UniqueConstraint("fingerprint", name="uq_reconcile_findings_fingerprint"),
    )
    op.create_index("ix_reconcile_findings_kind", "reconcile_findings", ["kind"], unique=False)
    op.create_table(
        "reconcile_run_findings",
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("finding_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["reconcile_findings.id"],
            name=op.f("fk_reconcile_run_findings_finding_id_reconcile_findings"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconcile_runs.id"],
            name=op.f("fk_reconcile_run_findings_run_id_reconcile_runs"),
        ),
        sa.PrimaryKeyConstraint("run_id", "finding_id", name=op.f("pk_reconcile_run_findings")),
    )


def downgrade() -> None:
    op.drop_table("reconcile_run_findings")
    op.drop_index("ix_reconcile_findings_kind", table_name="reconcile_findings")
    op.drop_table("reconcile_findings")
    op.drop_table("reconcile_runs")
    op.drop_table("ledger_cursors")
