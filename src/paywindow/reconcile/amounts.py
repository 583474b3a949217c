"""Decimal report amounts ↔ minor units, for Stripe's report CSVs and the finance report.

A small private helper: reconciliation keeps its own copy of Stripe's zero- and three-decimal
currency lists so it does not depend on display code (``paywindow.money`` formats by locale
for buyers; finance reports use one plain format: ``1,234.50 USD``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

__all__ = ["exponent", "format_amount", "to_major", "to_minor"]

_ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905
)
_THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])


def exponent(currency: str) -> int:
    """Digits after the decimal point in ``currency`` as Stripe counts its minor units."""
    code = currency.strip().lower()
    if code in _ZERO_DECIMAL:
        return 0
    return 3 if code in _THREE_DECIMAL else 2


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
