"""Reconciliation worlds: real Checkout payments in the sandbox, orders in the store.

:func:`seed_reconciliation` plays a story on a world built with ``serve=False`` and a
``data_dir``: orders opened locally, sessions created and paid through the stripe SDK, events
pulled from the sandbox and applied by the real processor, then days played out so payouts
happen, then the ledger synced to Parquet.

``seed_reconciliation(world, inject=True)`` adds exactly one case of every finding kind:

=========================  ==================================================================
missing_in_stripe          a local order marked paid with a charge Stripe never made (tamper)
missing_locally            a paid session whose events never reach paywindow (dropped)
amount_over                an order's local total lowered after payment (tamper)
amount_under               an order's local total raised after payment (tamper)
currency_mismatch          an order's local currency changed after payment (tamper)
fee_mismatch               a session created with a different application fee than the order
status_mismatch            a refund made in Stripe after the last event paywindow saw
duplicate_charge           two sessions of one order, both paid
late_payment_not_refunded  a payment after the order's deadline, never refunded
payout_unexplained         one balance transaction taken out of a payout's Parquet rows
=========================  ==================================================================

The clean part covers USD, EUR and JPY, partial and full refunds (with transfer reversal and
fee refund), a dispute lost and one won, and a late payment that was refunded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from paywindow.reconcile.ledger import ledger_files
from paywindow.reconcile.matching import Slas
from paywindow.reconcile.run import ReconcileResult, day_range, reconcile
from tests.world.build import World

ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = ROOT / "sql" / "reconcile"
TEMPLATES = ROOT / "reports" / "reconcile"
#: When reconciliation worlds start (a Monday, early in the month).
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def seed_reconciliation(world: World, *, inject: bool) -> World:
    """Play the seeded story on ``world`` (built with ``serve=False``, a ``data_dir``)."""
    assert not world.url, "events must reach paywindow only through world.deliver()"
    _clean_part(world)
    if inject:
        _inject_before_delivery(world)
    world.deliver()
    if inject:
        _inject_after_delivery(world)
    world.advance(timedelta(days=5))  # BTs become available, payouts are made and arrive
    world.sync()
    if inject:
        _unexplain_a_payout(world)
    return world


def reconcile_world(world: World, **overrides: object) -> ReconcileResult:
    """Reconcile every day from the world's start to now, as of now (default SLAs)."""
    now = world.now()
    period_from, period_to = day_range(world.started.date(), now.date())
    options: dict[str, object] = {
        "period_from": period_from,
        "period_to": period_to,
        "as_of": now,
        "now": now,
        "slas": Slas(),
    } | overrides
    return reconcile(world.engine, world.data_dir, SQL_DIR, **options)  # type: ignore[arg-type]


def _clean_part(w: World) -> None:
    w.sell("ord_usd_1", 2500)
    w.sell("ord_usd_2", 9900)
    w.sell("ord_usd_big", 150000)  # keeps the USD balance positive through the lost dispute
    w.sell("ord_eur_1", 4200, currency="eur")
    w.sell("ord_jpy_1", 3000, currency="jpy")
    w.refund(w.sell("ord_usd_partial", 8000), 2000)
    w.refund(w.sell("ord_eur_full", 1800, currency="eur"))
    lost = w.sandbox.open_dispute(w.sell("ord_usd_dispute_lost", 5000))
    w.sandbox.close_dispute(lost["id"], "lost")
    won = w.sandbox.open_dispute(w.sell("ord_usd_dispute_won", 4000))
    w.sandbox.close_dispute(won["id"], "won")
    w.open("ord_usd_late_refunded", 3000, deadline=timedelta(minutes=30))
    late = w.session("ord_usd_late_refunded", 3000, expires=timedelta(hours=2))
    w.advance(timedelta(hours=1))
    w.refund(w.pay(late))
    w.open("ord_usd_never_paid", 1200)
    w.session("ord_usd_never_paid", 1200)
    w.advance(timedelta(minutes=10))


def _inject_before_delivery(w: World) -> None:
    inj = w.injected
    w.sell("ord_x_over", 2500)
    inj["amount_over"] = "ord_x_over"
    w.sell("ord_x_under", 3000)
    inj["amount_under"] = "ord_x_under"
    w.sell("ord_x_currency", 2200)
    inj["currency_mismatch"] = "ord_x_currency"
    w.open("ord_x_fee", 5000)
    w.pay(w.session("ord_x_fee", 5000, fee=650))
    inj["fee_mismatch"] = "ord_x_fee"
    w.open("ord_x_dup", 1500)
    w.pay(w.session("ord_x_dup", 1500, attempt=1))
    w.pay(w.session("ord_x_dup", 1500, attempt=2))
    inj["duplicate_charge"] = "ord_x_dup"
    w.open("ord_x_late", 2700, deadline=timedelta(minutes=30))
    late = w.session("ord_x_late", 2700, expires=timedelta(hours=2))
    w.advance(timedelta(hours=1))
    w.pay(late)
    inj["late_payment_not_refunded"] = "ord_x_late"
    w.open("ord_x_missed", 3300)
    w.dropped_orders.add("ord_x_missed")
    w.pay(w.session("ord_x_missed", 3300))
    inj["missing_locally"] = "ord_x_missed"
    w.open("ord_x_ghost", 4400)
    inj["missing_in_stripe"] = "ord_x_ghost"
    w.sell("ord_x_status", 6000)
    inj["status_mismatch"] = "ord_x_status"


def _inject_after_delivery(w: World) -> None:
    now = w.now()
    w.tamper("ord_x_under", amount_total=3500)
    # paywindow holds a payment that is not the order's, so these two differ only by tamper
    w.tamper("ord_x_over", amount_total=2000)
    w.tamper("ord_x_currency", currency="eur")
    w.tamper("ord_x_ghost", state="paid", paid_at=now, charge="ch_ghost", amount_charged=4400)
    w.refund(w.charges["ord_x_status"])  # its events are never delivered


def _unexplain_a_payout(w: World) -> None:
    """Take one balance transaction out of the first payout's Parquet rows (synthetic tamper)."""
    for path in ledger_files(w.data_dir, "payout_items"):
        table = pq.read_table(path)
        if table.num_rows >= 2:
            payout = table.column("payout")[0].as_py()
            pq.write_table(table.slice(1), path)
            w.injected["payout_unexplained"] = payout
            return
    raise AssertionError("no payout with two balance transactions to tamper with")
