"""Old names of the store-level order helpers, kept only for ``test_content.py``'s import.

Worlds are built in :mod:`tests.world`; import from there. Delete this module once
``tests/receipts/test_content.py`` imports ``pay_order``, ``refund_order`` and ``pdf_text``
from ``tests.world``.
"""

from __future__ import annotations

from tests.world import pay_order as paid_order
from tests.world import pdf_text
from tests.world import place_order as unpaid_order
from tests.world import refund_order as refund

__all__ = ["paid_order", "pdf_text", "refund", "unpaid_order"]
