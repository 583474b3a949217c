"""The one place tests build worlds (dj-stripe's ``stripe_world``, one helper instead of patches).

``with build_world(engine, ...) as world:`` starts the Stripe sandbox on a frozen clock, makes a
connected seller, and wires paywindow to it with a :class:`~paywindow.clock.ManualClock` moved
together with the sandbox's (``world.advance``). Options add what a story needs:

=================  ===========================================================================
``serve=True``     the serve app (recorder + order API) on a loopback port, registered as the
                   sandbox's webhook endpoint: ``world.create``, ``world.api``, ``world.settle``
``serve=False``    no app and no webhook endpoint: events reach paywindow only when the test
                   pulls them (``world.deliver``), so a test can drop an order's events
``s3=handle``      the receipt service on moto's S3/KMS (``world.receipts``, ``world.render``);
                   the order API hands out its links
``data_dir=path``  where ``world.sync`` writes the Stripe ledger (Parquet); a temporary directory
                   by default
``window``         the orders' payment window; ``start``: the instant both clocks start at
=================  ===========================================================================

Helpers that build on a world or on a bare store:

* :func:`pay_order`, :func:`place_order`, :func:`refund_order`: orders in the store, paid or
  refunded by real Stripe event payloads applied by the real processor (no sandbox).
* :func:`seed_reconciliation`: the reconciliation world, one case of every finding kind on
  request, played out until payouts arrive, the ledger synced; :func:`reconcile_world` runs
  the reconciliation over it.
* :func:`receipt_service`, :func:`renderer`, :func:`pdf_text`: the receipt service wired to a
  bucket, the warm in-process renderer, and a stored PDF's text.
"""

from __future__ import annotations

from tests.world.build import SUPPORT_TOKEN, TOKEN, World, build_world, order_body, policy
from tests.world.ledger import (
    SQL_DIR,
    START,
    TEMPLATES,
    reconcile_world,
    seed_reconciliation,
)
from tests.world.orders import pay_order, place_order, refund_order
from tests.world.receipts import FOOTER, REPORTS, pdf_text, receipt_service, renderer

__all__ = [
    "FOOTER",
    "REPORTS",
    "SQL_DIR",
    "START",
    "SUPPORT_TOKEN",
    "TEMPLATES",
    "TOKEN",
    "World",
    "build_world",
    "order_body",
    "pay_order",
    "pdf_text",
    "place_order",
    "policy",
    "receipt_service",
    "reconcile_world",
    "refund_order",
    "renderer",
    "seed_reconciliation",
]
