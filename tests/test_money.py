"""Money in minor units: the zero-decimal table, exact decimals and Babel display; Money at
the boundaries (the order request, reconciliation findings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from paywindow.errors import InvalidRequest
from paywindow.money import (
    THREE_DECIMAL,
    ZERO_DECIMAL,
    Money,
    exponent,
    format_money,
    parse_locale,
    to_decimal,
)
from paywindow.payments.orders import LineItem, OrderRequest
from paywindow.reconcile import amounts
from paywindow.reconcile.findings import FindingStatus, StoredFinding
from paywindow.reconcile.matching import Finding, FindingKind
from paywindow.web.orders_input import OrderIn
from tests.factories import NOW


@pytest.mark.parametrize(
    ("currency", "digits"),
    [("usd", 2), ("EUR", 2), ("jpy", 0), ("krw", 0), ("kwd", 3), ("huf", 2)],
    ids=["usd", "eur-upper", "jpy", "krw", "kwd", "huf"],
)
def test_exponent_follows_stripe(currency: str, digits: int) -> None:
    assert exponent(currency) == digits


def test_to_decimal_is_exact() -> None:
    assert to_decimal(1999, "usd") == Decimal("19.99")
    assert to_decimal(1500, "jpy") == Decimal("1500")
    assert to_decimal(12340, "kwd") == Decimal("12.340")


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (1999, "usd", "en_US", "$19.99"),
        (123456, "eur", "de-DE", "1.234,56\xa0€"),
        (1500, "jpy", "ja_JP", "￥1,500"),
        (1500, "jpy", "en_US", "¥1,500"),
        (-500, "usd", None, "-$5.00"),
        (1999, "usd", "xx_NOPE", "$19.99"),
    ],
    ids=["usd", "eur-de", "jpy-ja", "jpy-en", "negative", "unknown-locale"],
)
def test_format_money(amount: int, currency: str, locale: str | None, expected: str) -> None:
    assert format_money(amount, currency, locale) == expected


def test_money_arithmetic_keeps_currency() -> None:
    total = Money(1000, "USD") + Money(250, "usd")
    assert total == Money(1250, "usd")
    assert (total - Money(50, "usd")).amount == 1200
    assert Money(300, "jpy").times(3) == Money(900, "jpy")
    assert (-Money(5, "eur")).amount == -5
    assert Money(1999, "usd").format("en_US") == "$19.99"
    assert Money(1999, "usd").decimal == Decimal("19.99")


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(TypeError):
        Money(19.99, "usd")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "usd")
    with pytest.raises(ValueError, match="currency mismatch"):
        Money(1, "usd") + Money(1, "eur")
    with pytest.raises(ValueError, match="not a currency"):
        Money(1, "dollars")


def test_parse_locale_accepts_tags() -> None:
    assert str(parse_locale("de-DE")) == "de_DE"
    assert str(parse_locale(None)) == "en_US"


def test_money_zero_total_and_exponent() -> None:
    assert Money.zero("JPY") == Money(0, "jpy")
    assert Money.total([Money(100, "eur"), Money(250, "eur")], "eur") == Money(350, "eur")
    assert Money.total([], "usd") == Money(0, "usd")
    assert Money(1, "kwd").exponent == 3
    with pytest.raises(ValueError, match="currency mismatch"):
        Money.total([Money(1, "usd")], "eur")


def test_report_amounts_use_the_one_exponent_table() -> None:
    for currency in [*ZERO_DECIMAL, *THREE_DECIMAL, "usd", "huf", "EUR"]:
        assert amounts.exponent(currency) == exponent(currency)
    assert amounts.format_amount(1500, "jpy") == "1,500 JPY"
    assert amounts.format_amount(123450, "usd") == "1,234.50 USD"
    assert amounts.to_minor("12.340", "kwd") == 12340
    assert amounts.exponent("??") == 2  # not a code: reports still print it


def _request(currency: str, lines: tuple[LineItem, ...], fee: int = 0) -> OrderRequest:
    return OrderRequest(
        order_id="ord_money",
        buyer_id="u_1",
        seller_account="acct_1",
        currency=currency,
        application_fee_amount=fee,
        lines=lines,
    )


def test_an_order_request_totals_as_money() -> None:
    request = _request("usd", (LineItem("Lamp", 1999, 2), LineItem("Tax", 500, 1, 80)), fee=300)
    assert request.total == Money(4578, "usd")
    assert request.amount_total == 4578
    assert request.application_fee == Money(300, "usd")
    assert request.lines[0].total("usd") == Money(3998, "usd")
    assert request.total.format("en_US") == "$45.78"


def test_a_zero_decimal_order_counts_whole_yen() -> None:
    request = _request("jpy", (LineItem("Poster", 1500, 3),), fee=150)
    assert request.total == Money(4500, "jpy")
    assert request.total.decimal == Decimal("4500")
    assert request.total.format("ja_JP") == "￥4,500"
    assert request.application_fee.format("en_US") == "¥150"


def test_an_order_request_refuses_amounts_that_are_not_money() -> None:
    with pytest.raises(TypeError):
        _request("usd", (LineItem("Lamp", 19.99, 1),))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _request("usd", (LineItem("Lamp", 1999, 1),), fee=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a currency"):
        _request("dollars", (LineItem("Lamp", 1999, 1),))


def test_the_api_body_builds_a_money_request() -> None:
    body = {
        "order_id": "ord_jpy_1",
        "buyer": {"id": "u_1"},
        "seller_account": "acct_1",
        "currency": "JPY",
        "application_fee_amount": 100,
        "line_items": [{"name": "Poster", "unit_amount": 1500, "quantity": 2}],
        "amount_total": 3000,
    }
    request = OrderIn.model_validate(body).to_request()
    assert request.currency == "jpy"
    assert request.total == Money(3000, "jpy")
    with pytest.raises(InvalidRequest, match="does not match"):
        OrderIn.model_validate({**body, "amount_total": 3001})
    with pytest.raises(InvalidRequest, match="larger than"):
        OrderIn.model_validate({**body, "application_fee_amount": 3001})


def _finding(**facts: Any) -> Finding:
    row: dict[str, Any] = {
        "kind": "amount_over",
        "order_id": "ord_1",
        "stripe_id": "ch_1",
        "currency": "jpy",
        "local_amount": 1500,
        "stripe_amount": 1800,
        "detail": None,
        "occurred_at": None,
        "due_at": None,
    }
    return Finding(**(row | facts))


def test_finding_amounts_are_money_in_the_finding_currency() -> None:
    finding = _finding()
    assert finding.kind is FindingKind.AMOUNT_OVER
    assert finding.local_money == Money(1500, "jpy")
    assert finding.stripe_money == Money(1800, "jpy")
    assert finding.stripe_money - finding.local_money == Money(300, "jpy")
    assert finding.explanation == (
        "Charge ch_1 took 1,800 JPY, 300 JPY more than order ord_1's total of 1,500 JPY."
    )
    missing = _finding(kind="missing_locally", local_amount=None, detail="no order")
    assert missing.local_money is None and missing.stripe_money == Money(1800, "jpy")
    assert _finding(currency=None).local_money is None


def test_a_stored_finding_has_money_and_a_status() -> None:
    stored = StoredFinding(
        id=1,
        kind="amount_under",
        order_id="ord_1",
        stripe_id="ch_1",
        currency="usd",
        local_amount=2500,
        stripe_amount=2000,
        explanation="",
        occurred_at=None,
        first_seen_at=NOW,
        last_seen_at=NOW,
        resolved_at=None,
        resolution_note=None,
    )
    assert stored.local_money == Money(2500, "usd")
    assert stored.stripe_money == Money(2000, "usd")
    assert stored.status == "open"
    assert stored.status is FindingStatus.OPEN
