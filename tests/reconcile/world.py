"""Seeded worlds for reconciliation: real Checkout payments in the sandbox, orders in the store.

One helper builds a whole world (dj-stripe's ``stripe_world`` idea): orders opened locally,
sessions created and paid through the stripe SDK, events pulled from the sandbox and applied by
the real processor, then days played out so payouts happen, then the ledger synced to Parquet.

``build_world(..., inject=True)`` adds exactly one case of every finding kind:

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

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import stripe
from sqlalchemy import Engine, update

from paywindow.inbox.processor import process_due
from paywindow.payments.repository import NewOrder, create_order
from paywindow.payments.stripe_events import ATTEMPT_KEY, ORDER_KEY
from paywindow.reconcile.ledger import ledger_files
from paywindow.reconcile.sync import sync_ledger
from paywindow.sandbox import SandboxHandle
from paywindow.store.tables import orders
from tests.factories import plan_attempt, record

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(hours=23)


@dataclass
class World:
    sandbox: SandboxHandle
    client: stripe.StripeClient
    engine: Engine
    data_dir: Path
    seller: str = ""
    charges: dict[str, str] = field(default_factory=dict)  # order id -> charge id
    injected: dict[str, str] = field(default_factory=dict)  # kind -> order id or payout id
    dropped_orders: set[str] = field(default_factory=set)
    seen_events: set[str] = field(default_factory=set)

    def now(self) -> datetime:
        return self.sandbox.now()

    def open(
        self, order_id: str, amount: int, *, currency: str = "usd", fee: int | None = None,
        deadline: timedelta = WINDOW,
    ) -> None:  # fmt: skip
        now = self.now()
        with self.engine.begin() as conn:
            create_order(
                conn,
                NewOrder(
                    id=order_id,
                    currency=currency,
                    amount_total=amount,
                    application_fee_amount=amount // 10 if fee is None else fee,
                    seller_account=self.seller,
                    buyer_id=f"u_{order_id}",
                    deadline=now + deadline,
                ),
                now,
            )

    def session(
        self, order_id: str, amount: int, *, currency: str = "usd", fee: int | None = None,
        attempt: int = 1, expires: timedelta = WINDOW,
    ) -> str:  # fmt: skip
        metadata = {ORDER_KEY: order_id, ATTEMPT_KEY: str(attempt)}
        with self.engine.begin() as conn:  # planned first, as checkout does
            plan_attempt(conn, order_id, attempt, self.now())
        session = self.client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": currency,
                            "unit_amount": amount,
                            "product_data": {"name": "Signed vinyl"},
                        },
                        "quantity": 1,
                    }
                ],
                "client_reference_id": order_id,
                "metadata": metadata,
                "expires_at": int((self.now() + expires).timestamp()),
                "success_url": "https://marketplace.example/paid",
                "payment_intent_data": {
                    "application_fee_amount": amount // 10 if fee is None else fee,
                    "transfer_data": {"destination": self.seller},
                    "metadata": metadata,
                },
            }
        )
        return str(session.id)

    def pay(self, session_id: str) -> str:
        result = self.sandbox.pay(session_id, "success")
        charge = str(result["charge"]["id"])
        return charge

    def sell(self, order_id: str, amount: int, **kwargs: Any) -> str:
        """Open an order and pay it in full through Checkout; return the charge id."""
        self.open(order_id, amount, currency=kwargs.get("currency", "usd"))
        charge = self.pay(self.session(order_id, amount, **kwargs))
        self.charges[order_id] = charge
        return charge

    def refund(self, charge: str, amount: int | None = None) -> None:
        params: Any = {"charge": charge, "reverse_transfer": True, "refund_application_fee": True}
        if amount is not None:
            params["amount"] = amount
        self.client.v1.refunds.create(params=params)

    def deliver(self) -> None:
        """Record every new sandbox event (except dropped orders') and apply them."""
        events = self.client.v1.events.list(params={"limit": 100}).auto_paging_iter()
        fresh = [e.to_dict() for e in events if e.id not in self.seen_events]
        self.seen_events |= {e["id"] for e in fresh}
        keep = [e for e in reversed(fresh) if _order_of(e) not in self.dropped_orders]
        record(self.engine, *keep)
        for later in (0, 3600, 6 * 3600):
            while process_due(self.engine, self.now() + timedelta(seconds=later)).total:
                pass

    def tamper(self, order_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(orders).where(orders.c.id == order_id).values(**values))

    def sync(self) -> None:
        sync_ledger(
            self.engine, self.client, self.data_dir, now=self.now(), overlap=timedelta(days=7)
        )


def _order_of(event: dict[str, Any]) -> str | None:
    obj = event["data"]["object"]
    found = (obj.get("metadata") or {}).get(ORDER_KEY)
    return str(found) if found else None


def build_world(sandbox: SandboxHandle, engine: Engine, data_dir: Path, *, inject: bool) -> World:
    client = sandbox.client()
    world = World(sandbox, client, engine, data_dir)
    world.seller = str(client.v1.accounts.create(params={"type": "express"}).id)
    _clean_part(world)
    if inject:
        _inject_before_delivery(world)
    world.deliver()
    if inject:
        _inject_after_delivery(world)
    sandbox.advance(timedelta(days=5))  # BTs become available, payouts are made and arrive
    world.sync()
    if inject:
        _unexplain_a_payout(world)
    return world


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
    w.sandbox.advance(timedelta(hours=1))
    w.refund(w.pay(late))
    w.open("ord_usd_never_paid", 1200)
    w.session("ord_usd_never_paid", 1200)
    w.sandbox.advance(timedelta(minutes=10))


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
    w.sandbox.advance(timedelta(hours=1))
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
