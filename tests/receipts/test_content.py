"""What a buyer gets: text read back from the real PDFs stored in (moto's) S3."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace

import pytest
from sqlalchemy import Engine, select

from paywindow.clock import ManualClock
from paywindow.money import Money
from paywindow.receipts.model import Line, PaymentMethod, ReceiptDocument
from paywindow.receipts.repository import receipts_for_order
from paywindow.receipts.service import ReceiptService, Submit
from paywindow.store.outbox import pending_messages
from paywindow.store.tables import receipt_versions
from tests.factories import NOW
from tests.world import pay_order as paid_order
from tests.world import pdf_text
from tests.world import refund_order as refund


def _render(
    engine: Engine, service: ReceiptService, clock: ManualClock, submit: Submit, order_id: str
) -> list[dict]:  # type: ignore[type-arg]
    report = service.run_once(clock, submit)
    assert report.failed == 0
    with engine.connect() as conn:
        return receipts_for_order(conn, order_id)


@pytest.mark.parametrize(
    ("currency", "locale", "items", "expected"),
    [
        pytest.param(
            "usd",
            "en_US",
            [("Signed vinyl", 2500, 2, 0), ("Shipping", 499, 1, 0)],
            ["$25.00", "$50.00", "$4.99", "Total paid $54.99"],
            id="usd-en",
        ),
        pytest.param(
            "eur",
            "de-DE",
            [("Schallplatte", 123456, 1, 19711)],
            ["1.234,56 €", "incl. tax 197,11 €", "Total paid 1.234,56 €", "28.11.2026"],
            id="eur-de",
        ),
        pytest.param(
            "jpy",
            "ja_JP",
            [("レコード", 1500, 3, 0)] if False else [("Record", 1500, 3, 0)],
            ["¥1,500", "Total paid ¥4,500"],
            id="jpy-ja",
        ),
    ],
)
def test_receipt_pdf_says_what_was_paid(
    engine: Engine,
    service: ReceiptService,
    clock: ManualClock,
    submit: Submit,
    currency: str,
    locale: str,
    items: list[tuple[str, int, int, int]],
    expected: list[str],
) -> None:
    paid_order(engine, "ord_r1", currency=currency, locale=locale, items=items)
    (row,) = _render(engine, service, clock, submit, "ord_r1")
    assert row["status"] == "stored" and row["number"] == "R-2026-000001"
    text = pdf_text(service, row)
    for needle in [
        *expected,
        "R-2026-000001",
        "Vinyl & Co.",
        "ana@example.com",
        "Visa •••• 4242",
        "ch_ord_r1_1",
        "paywindow Marketplace Ltd.",
    ]:
        assert needle in text, (needle, text)
    if currency == "jpy":
        assert "¥1,500.00" not in text and "¥15.00" not in text


def test_receipt_row_keeps_hash_version_and_outbox(
    engine: Engine, service: ReceiptService, clock: ManualClock, submit: Submit
) -> None:
    paid_order(engine, "ord_r2")
    (row,) = _render(engine, service, clock, submit, "ord_r2")
    body = service.store.get(row["object_key"], row["version_id"])
    import hashlib

    assert row["sha256"] == hashlib.sha256(body).hexdigest()
    assert row["object_key"] == "receipts/2026/11/R-2026-000001.pdf"
    with engine.connect() as conn:
        (message,) = pending_messages(conn, "receipt.generated")
        versions = list(conn.execute(select(receipt_versions)).mappings())
    assert message["payload"]["number"] == "R-2026-000001"
    assert message["payload"]["sha256"] == row["sha256"]
    assert [(v["version"], v["version_id"]) for v in versions] == [(1, row["version_id"])]
    assert json.loads(json.dumps(message["payload"]))["order_id"] == "ord_r2"


def test_refund_produces_a_credit_note_referencing_the_receipt(
    engine: Engine, service: ReceiptService, clock: ManualClock, submit: Submit
) -> None:
    total = paid_order(engine, "ord_r3")
    _render(engine, service, clock, submit, "ord_r3")
    refund(engine, "ord_r3", 1000, total, "re_first")
    receipt, note = _render(engine, service, clock, submit, "ord_r3")
    assert (note["kind"], note["number"], note["original_number"]) == (
        "credit_note",
        "CN-2026-000001",
        receipt["number"],
    )
    text = pdf_text(service, note)
    for needle in [
        "Credit note",
        "CN-2026-000001",
        "Corrects receipt",
        "R-2026-000001",
        "re_first",
        "Refunded by this note -$10.00",
        "Refunded to date $10.00",
    ]:
        assert needle.lower() in text.lower(), (needle, text)
    refund(engine, "ord_r3", total, total, "re_rest")
    *_, second = _render(engine, service, clock, submit, "ord_r3")
    assert (second["number"], second["amount"], second["refunded_to"]) == (
        "CN-2026-000002",
        total - 1000,
        total,
    )
    assert service.run_once(clock, submit).issued == 0  # nothing more to issue


def _document(**changes: object) -> ReceiptDocument:
    def usd(amount: int) -> Money:
        return Money(amount, "usd")

    doc = ReceiptDocument(
        kind="receipt", number="R-2026-000009", version=1, issued_at=NOW, order_id="ord_p",
        currency="usd", locale="en_US", buyer_email=None, buyer_id="u_1", seller_name="Seller",
        seller_account="acct_1", lines=(Line("Vinyl", 2, usd(2500), usd(5000), usd(0)),),
        subtotal=usd(5000), tax_total=usd(0), tax_included=False, total=usd(5000),
        amount=usd(5000), paid_at=NOW, charge="ch_1", payment_method=PaymentMethod("card"),
        platform_name="paywindow", legal_footer="Footer.", refunded_total=usd(0),
    )  # fmt: skip
    return replace(doc, **changes)  # type: ignore[arg-type]


def test_document_amounts_are_money_and_it_pickles_for_the_pool() -> None:
    doc = _document()
    copy = pickle.loads(pickle.dumps(doc))
    assert copy == doc and copy.lines[0].amount == Money(5000, "usd")
    assert copy.total.format("en_US") == "$50.00"


def test_an_amount_in_another_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="not in usd"):
        _document(amount=Money(5000, "eur"))
