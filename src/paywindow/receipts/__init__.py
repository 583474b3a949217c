"""Receipts and credit notes: content, numbering, rendering, storage in S3, signed links.

Siblings and shells import these names from here (see ``paywindow._faces``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paywindow._faces import face

if TYPE_CHECKING:
    from paywindow.receipts.pool import RenderPool, inline
    from paywindow.receipts.render import Renderer
    from paywindow.receipts.service import ReceiptConfig, ReceiptService, receipts_overdue

__all__ = [
    "ReceiptConfig",
    "ReceiptService",
    "RenderPool",
    "Renderer",
    "inline",
    "receipts_overdue",
]

__getattr__ = face(
    __name__,
    {
        "Renderer": "render",
        "RenderPool": "pool",
        "inline": "pool",
        "ReceiptConfig": "service",
        "ReceiptService": "service",
        "receipts_overdue": "service",
    },
)
