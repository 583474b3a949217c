"""Reconciliation: Stripe's ledger synced to Parquet, matched in DuckDB against local state,
findings and finance reports.

Siblings and shells import these names from here (see ``paywindow._faces``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paywindow._faces import face

if TYPE_CHECKING:
    from paywindow.reconcile.amounts import format_amount
    from paywindow.reconcile.report import TOTAL_COLUMNS, markdown_summary, write_reports
    from paywindow.reconcile.run import day_range, reconcile
    from paywindow.reconcile.sync import sync_ledger

__all__ = [
    "TOTAL_COLUMNS",
    "day_range",
    "format_amount",
    "markdown_summary",
    "reconcile",
    "sync_ledger",
    "write_reports",
]

__getattr__ = face(
    __name__,
    {
        "TOTAL_COLUMNS": "report",
        "markdown_summary": "report",
        "write_reports": "report",
        "format_amount": "amounts",
        "day_range": "run",
        "reconcile": "run",
        "sync_ledger": "sync",
    },
)
