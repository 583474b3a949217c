"""Money: an integer amount in a currency's minor units, as Stripe counts it.

The number of minor units per major unit comes from one table (Stripe's, which is not quite
ISO 4217's: Stripe treats ISK and HUF as two-decimal for charges, JPY and KRW as zero-decimal).
Floats are refused loudly; display goes through Babel with the locale's pattern and the
currency's Stripe exponent, so 1500 JPY shows as ``￥1,500`` and 1500 EUR in ``de_DE`` as
``15,00 €``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_symbol

__all__ = [
    "THREE_DECIMAL",
    "ZERO_DECIMAL",
    "Money",
    "currency_symbol",
    "exponent",
    "format_money",
    "parse_locale",
    "to_decimal",
]

#: Currencies Stripe charges in whole units (docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL: frozenset[str] = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
#: Currencies Stripe counts in thousandths (the last digit must be 0 when charging).
THREE_DECIMAL: frozenset[str] = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

DEFAULT_LOCALE = "en_US"


def exponent(currency: str) -> int:
    """Digits after the decimal point for ``currency`` as Stripe counts its minor units."""
    code = _code(currency)
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_decimal(amount: int, currency: str) -> Decimal:
    """The amount in major units, exactly (``1999 usd`` -> ``Decimal('19.99')``)."""
    _check_int(amount)
    return Decimal(amount).scaleb(-exponent(currency))


def parse_locale(value: str | None) -> Locale:
    """A Babel locale from ``de-DE``, ``de_DE`` or ``de``; the default for None or unknown."""
    if value:
        try:
            return Locale.parse(value.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            pass
    return Locale.parse(DEFAULT_LOCALE)


def format_money(amount: int, currency: str, locale: str | Locale | None = None) -> str:
    """Format minor units for display in ``locale`` with the currency's own digit count."""
    loc = locale if isinstance(locale, Locale) else parse_locale(locale)
    digits = exponent(currency)
    pattern = copy.copy(loc.currency_formats["standard"])
    pattern.frac_prec = (digits, digits)
    return str(
        pattern.apply(
            to_decimal(amount, currency),
            loc,
            currency=_code(currency).upper(),
            currency_digits=False,
        )
    )


def currency_symbol(currency: str, locale: str | Locale | None = None) -> str:
    loc = locale if isinstance(locale, Locale) else parse_locale(locale)
    return get_currency_symbol(_code(currency).upper(), loc)


@dataclass(frozen=True, slots=True)
class Money:
    """``amount`` minor units of ``currency`` (lower-case ISO code, as Stripe writes it)."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        _check_int(self.amount)
        object.__setattr__(self, "currency", _code(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Nothing, in ``currency`` (the start of a sum)."""
        return cls(0, currency)

    @classmethod
    def total(cls, items: Iterable[Money], currency: str) -> Money:
        """The sum of ``items``, all in ``currency`` (zero when there are none)."""
        result = cls.zero(currency)
        for item in items:
            result += item
        return result

    @property
    def exponent(self) -> int:
        """Digits after the decimal point in this currency (the one table's)."""
        return exponent(self.currency)

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def times(self, quantity: int) -> Money:
        _check_int(quantity)
        return Money(self.amount * quantity, self.currency)

    def format(self, locale: str | Locale | None = None) -> str:
        return format_money(self.amount, self.currency, locale)

    @property
    def decimal(self) -> Decimal:
        return to_decimal(self.amount, self.currency)

    def _same(self, other: Money) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} and {other.currency}")
        return other


def _check_int(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"money amounts are integers in minor units, not {type(value).__name__}")


def _code(currency: str) -> str:
    code = currency.strip().lower()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"not a currency code: {currency!r}")
    return code
