"""Worked example: finance asks what a payout is made of, and every cent is accounted for.

Three buyers pay through Stripe Checkout (25.00, 40.00 and 12.00, destination charges with a
platform fee); the 12.00 order is then refunded in full, transfer and fee included. Days pass,
Stripe makes the payouts, paywindow syncs Stripe's ledger and reconciles it. Each payout is then
read line by line: every balance transaction in it belongs to one of the three orders (its
charge, the transfer to the seller, the platform fee, or the refund and what the refund took
back), the lines add up to the payout exactly, and the reconciliation has nothing to report.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy import Engine, select

from paywindow.reconcile.ledger import ledger_files
from paywindow.store.outbox import pending_messages
from paywindow.store.tables import event_log, orders
from tests.world import World, build_world, reconcile_world

#: order id -> (price, platform fee)
SALES = {"ord_poster": (2500, 300), "ord_boots": (4000, 400), "ord_zine": (1200, 150)}
REFUNDED = "ord_zine"


def _states(world: World) -> dict[str, str]:
    with world.engine.connect() as conn:
        return {str(k): str(v) for k, v in conn.execute(select(orders.c.id, orders.c.state))}


def _ledger(world: World, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in ledger_files(world.data_dir, table):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def _stripe_fee(amount: int) -> int:
    """Stripe's price in the sandbox: 2.9 % + 0.30, rounded half up to the cent."""
    return (amount * 29 + 500) // 1000 + 30


def _owners(world: World) -> dict[str, tuple[str, str]]:
    """Every Stripe object a platform balance transaction can come from -> (order, what)."""
    client = world.stripe
    owners: dict[str, tuple[str, str]] = {}
    charges = {world.charges[o]: o for o in SALES}
    for charge_id, order_id in charges.items():
        owners[charge_id] = (order_id, "charge")
    for fee in client.v1.application_fees.list(params={"limit": 100}).data:
        order_id = charges[fee.originating_transaction]  # ``charge`` is the seller's py_
        owners[fee.id] = (order_id, "platform fee")
        for fee_refund in fee.refunds.data:
            owners[fee_refund.id] = (order_id, "platform fee refunded")
    for transfer in client.v1.transfers.list(params={"limit": 100}).data:
        order_id = charges[transfer.source_transaction]
        owners[transfer.id] = (order_id, "transfer to seller")
        for reversal in transfer.reversals.data:
            owners[reversal.id] = (order_id, "transfer reversed")
    for refund in client.v1.refunds.list(params={"limit": 100}).data:
        owners[refund.id] = (charges[refund.charge], "refund")
    return owners


def test_a_payout_is_explained_line_by_line(engine: Engine) -> None:
    with build_world(engine) as world:
        # 1. Three buyers pay in Checkout; the seller is the destination, the platform takes a fee.
        for order_id, (price, fee) in SALES.items():
            items = [{"name": order_id.removeprefix("ord_"), "unit_amount": price, "quantity": 1}]
            view = world.create(order_id, line_items=items, application_fee_amount=fee).json()
            world.charges[order_id] = world.pay(view["session_id"])
        world.settle()
        assert _states(world) == dict.fromkeys(SALES, "paid")
        with world.engine.connect() as conn:
            assert Counter(m["topic"] for m in pending_messages(conn)) == {"order.paid": 3}
        transfers = world.stripe.v1.transfers.list(params={"limit": 10}).data
        assert sorted(t.amount for t in transfers) == sorted(p for p, _ in SALES.values())

        # 2. The zine is refunded in full at Stripe: transfer reversed, platform fee returned.
        world.advance(timedelta(hours=2))
        refund = world.refund(world.charges[REFUNDED])
        assert (refund.amount, refund.status) == (1200, "succeeded")
        world.settle()
        assert _states(world) == {**dict.fromkeys(SALES, "paid"), REFUNDED: "refunded"}
        assert world.stripe.v1.payouts.list(params={"limit": 10}).data == []  # not yet

        # 3. Three days pass: the funds become available and Stripe pays the platform out.
        world.advance(timedelta(days=3))
        world.settle()
        payouts = world.stripe.v1.payouts.list(params={"limit": 10}).data
        assert payouts and all(p.status == "paid" for p in payouts), payouts
        assert {p.currency for p in payouts} == {"usd"}
        with world.engine.connect() as conn:
            payout_events = conn.execute(
                select(event_log.c.status).where(event_log.c.type.like("payout.%"))
            ).scalars()
            assert set(payout_events) == {"ignored"}  # finance's, not an order's
        assert _states(world) == {**dict.fromkeys(SALES, "paid"), REFUNDED: "refunded"}

        # 4. paywindow syncs Stripe's ledger into Parquet: every payout with its lines.
        synced = world.sync()
        assert synced.rows["payouts"] == len(payouts)
        items = _ledger(world, "payout_items")
        assert synced.rows["payout_items"] == len(items) == 12  # 3 sales x 3, the refund x 3
        assert {i["payout"] for i in items} == {p.id for p in payouts}

        # 5. The reconciliation finds nothing wrong and explains every payout to the cent.
        result = reconcile_world(world)
        assert result.findings == [] and result.expected == []
        assert {p["payout"] for p in result.payouts} == {p.id for p in payouts}
        assert all(p["difference"] == 0 for p in result.payouts), result.payouts
        assert sum(p["lines"] for p in result.payouts) == 12

        # 6. Line by line: each balance transaction is one of the orders' charge, transfer,
        #    fee, or the refund and what it took back; together they are the payout.
        owners = _owners(world)
        txns = {t["id"]: t for t in _ledger(world, "balance_transactions")}
        lines: list[tuple[str, str, int]] = []
        for payout in payouts:
            mine = [txns[i["balance_transaction"]] for i in items if i["payout"] == payout.id]
            assert sum(t["net"] for t in mine) == payout.amount
            lines.extend((*owners[t["source"]], t["net"]) for t in mine)
        expected: list[tuple[str, str, int]] = []
        for order_id, (price, fee) in SALES.items():
            expected += [
                (order_id, "charge", price - _stripe_fee(price)),
                (order_id, "transfer to seller", -price),
                (order_id, "platform fee", fee),
            ]
        price, fee = SALES[REFUNDED]
        expected += [
            (REFUNDED, "refund", -price),
            (REFUNDED, "transfer reversed", price),
            (REFUNDED, "platform fee refunded", -fee),
        ]
        assert sorted(lines) == sorted(expected)
        kept = sum(fee - _stripe_fee(price) for o, (price, fee) in SALES.items() if o != REFUNDED)
        assert sum(p.amount for p in payouts) == kept - _stripe_fee(SALES[REFUNDED][0])
