"""Worked example: a buyer sends back one of two records; paywindow issues a credit note for it.

The buyer pays 50.00 for two signed records through Stripe Checkout and gets receipt
R-2026-000001. Support refunds one record (25.00) at Stripe the way paywindow refunds a
destination charge: the seller's transfer is reversed by the same share and the platform's fee
returned pro rata. Stripe's events reach paywindow, the order becomes partially refunded, and the
renderer issues credit note CN-2026-000001 for exactly 25.00, correcting the receipt.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from paywindow.sandbox.s3 import S3Handle
from paywindow.store.outbox import pending_messages
from paywindow.store.tables import event_log, orders, receipts
from tests.world import World, build_world, pdf_text

ORDER = "ord_two_records"
TWO_RECORDS = [{"name": "Signed vinyl", "unit_amount": 2500, "quantity": 2}]


def _order(world: World) -> dict[str, Any]:
    with world.engine.connect() as conn:
        return dict(conn.execute(select(orders).where(orders.c.id == ORDER)).mappings().one())


def _documents(world: World) -> list[dict[str, Any]]:
    query = select(receipts).where(receipts.c.order_id == ORDER).order_by(receipts.c.id)
    with world.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def _messages(world: World) -> list[dict[str, Any]]:
    with world.engine.connect() as conn:
        return pending_messages(conn)


def _events(world: World) -> dict[str, set[str]]:
    """Recorded event types by processing status."""
    by_status: dict[str, set[str]] = {}
    with world.engine.connect() as conn:
        for kind, status in conn.execute(select(event_log.c.type, event_log.c.status)):
            by_status.setdefault(status, set()).add(kind)
    return by_status


def test_a_partial_refund_gets_a_credit_note_for_that_amount(engine: Engine, s3: S3Handle) -> None:
    with build_world(engine, s3=s3) as world:
        assert world.receipts is not None
        # 1. The marketplace opens the order: two records at 25.00, 5.00 of it the platform's.
        created = world.create(ORDER, application_fee_amount=500, line_items=TWO_RECORDS)
        assert created.status_code == 201, created.text
        view = created.json()
        assert (view["state"], view["amount_total"], view["application_fee_amount"]) == (
            "awaiting_payment",
            5000,
            500,
        )
        assert _messages(world) == [] and _documents(world) == []

        # 2. The buyer pays 50.00 in Checkout; Stripe's webhooks are recorded and applied.
        world.sandbox.pay(view["session_id"], "success")
        world.settle()
        order = _order(world)
        assert (order["state"], order["amount_charged"], order["amount_refunded"]) == (
            "paid",
            5000,
            0,
        )
        charge = order["charge"]
        assert charge and charge.startswith("ch_")
        assert [m["topic"] for m in _messages(world)] == ["order.paid"]
        assert _documents(world) == []  # the renderer's next turn issues it

        # 3. The renderer issues receipt R-2026-000001 for 50.00 and stores its PDF in S3.
        report = world.render()
        assert (report.issued, report.stored, report.failed) == (1, 1, 0)
        (receipt,) = _documents(world)
        assert (receipt["kind"], receipt["number"], receipt["amount"]) == (
            "receipt",
            "R-2026-000001",
            5000,
        )
        assert (receipt["status"], receipt["version"], receipt["currency"]) == ("stored", 1, "usd")
        text = pdf_text(world.receipts, receipt)
        assert "R-2026-000001" in text and "$50.00" in text, text
        generated = _messages(world)[-1]
        assert generated["topic"] == "receipt.generated"
        assert (generated["payload"]["number"], generated["payload"]["sha256"]) == (
            "R-2026-000001",
            receipt["sha256"],
        )

        # 4. Support refunds one record at Stripe: the seller's transfer is reversed by 25.00
        #    and half the platform's fee goes back. paywindow has not heard of it yet.
        refund = world.refund(charge, 2500)
        assert (refund.amount, refund.status, refund.charge) == (2500, "succeeded", charge)
        (transfer,) = world.stripe.v1.transfers.list(params={"limit": 10}).data
        assert (transfer.amount, transfer.amount_reversed) == (5000, 2500)
        (fee,) = world.stripe.v1.application_fees.list(params={"limit": 10}).data
        assert (fee.amount, fee.amount_refunded) == (500, 250)
        assert _order(world)["state"] == "paid"

        # 5. The refund's events arrive: charge.refunded moves the order to partially_refunded;
        #    the refund, reversal and fee-refund events are kept for reconciliation only.
        world.settle()
        order = _order(world)
        assert (order["state"], order["amount_charged"], order["amount_refunded"]) == (
            "partially_refunded",
            5000,
            2500,
        )
        events = _events(world)
        assert "charge.refunded" in events["applied"]
        assert {"refund.created", "transfer.reversed", "application_fee.refunded"} <= events[
            "ignored"
        ]
        assert set(events) == {"applied", "ignored"}, events
        assert [m["topic"] for m in _messages(world)] == [
            "order.paid",
            "receipt.generated",
            "order.partially_refunded",
        ]

        # 6. The renderer issues credit note CN-2026-000001 for 25.00, correcting the receipt,
        #    and leaves the receipt as it was.
        report = world.render()
        assert (report.issued, report.stored, report.failed) == (1, 1, 0)
        same_receipt, note = _documents(world)
        assert same_receipt == receipt
        assert (note["kind"], note["number"], note["original_number"]) == (
            "credit_note",
            "CN-2026-000001",
            "R-2026-000001",
        )
        assert (note["amount"], note["refunded_to"], note["currency"], note["status"]) == (
            2500,
            2500,
            "usd",
            "stored",
        )
        text = pdf_text(world.receipts, note)
        for needle in [
            "Credit note",
            "CN-2026-000001",
            "Corrects receipt",
            "R-2026-000001",
            refund.id,
            "Originally paid $50.00",
            "Refunded to date $25.00",
            "Refunded by this note -$25.00",
        ]:
            assert needle.lower() in text.lower(), (needle, text)
        topics = [(m["topic"], m["payload"].get("number")) for m in _messages(world)]
        assert topics == [
            ("order.paid", None),
            ("receipt.generated", "R-2026-000001"),
            ("order.partially_refunded", None),
            ("receipt.generated", "CN-2026-000001"),
        ]

        # 7. The marketplace app is handed both documents; another turn issues nothing more.
        links = world.api("GET", f"/v1/orders/{ORDER}/receipt").json()
        assert (links["status"], links["receipt"]["number"]) == ("ready", "R-2026-000001")
        notes = [(n["kind"], n["number"], n["amount"]) for n in links["credit_notes"]]
        assert notes == [("credit_note", "CN-2026-000001", 2500)]
        assert world.render().issued == 0
