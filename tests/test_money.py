"""Money in minor units: the zero-decimal table, exact decimals and Babel display."""

from __future__ import annotations

from decimal import Decimal

import pytest

from paywindow.money import Money, exponent, format_money, parse_locale, to_decimal


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
