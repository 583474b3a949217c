"""Decimal report amounts ↔ minor units, for Stripe's report CSVs and the finance report.

Finance reports use one plain format (``1,234.50 USD``), not the buyer's locale. The digits
per currency come from the one exponent table, :func:`paywindow.money.exponent`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from paywindow import money

__all__ = ["exponent", "format_amount", "to_major", "to_minor"]


def exponent(currency: str) -> int:
    """Digits after the decimal point in ``currency`` as Stripe counts its minor units.

    The table is :func:`paywindow.money.exponent`'s; a value that is not a currency code at all
    counts two digits here (a report prints what it was given rather than failing on it).
    """
    try:
        return money.exponent(currency)
    except ValueError:
        return 2


def to_minor(value: str, currency: str) -> int:
    """``"12.34"`` in ``usd`` → ``1234``; refuses values that are not whole minor units."""
    text = value.strip().replace(",", "")
    try:
        amount = Decimal(text) if text else Decimal(0)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number of {currency.upper()} minor units")
    return int(scaled)


def to_major(minor: int, currency: str) -> Decimal:
    return Decimal(int(minor)).scaleb(-exponent(currency))


def format_amount(minor: int | None, currency: str | None) -> str:
    """``1234, "usd"`` → ``"12.34 USD"``; ``—`` for a missing amount."""
    if minor is None or currency is None:
        return "—"
    places = exponent(currency)
    return f"{to_major(minor, currency):,.{places}f} {currency.upper()}"
