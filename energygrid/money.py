"""Money as Decimal, rounded once, to the currency's ISO 4217 minor unit."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel.numbers import get_currency_precision


@cache
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))


def quantize_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded (half up) to ``currency``'s minor unit: USD 0.01, JPY 1."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | None, currency: str) -> str | None:
    """The API's money representation: a decimal string in the minor unit (``"12.34"``)."""
    return format_moneys([amount], currency)[0]


def format_moneys(amounts: Iterable[Decimal | str | None], currency: str) -> list[str | None]:
    """:func:`format_money` of each of ``amounts`` (a column of a page)."""
    return [
        None if amount is None else str(quantize_money(Decimal(amount), currency))
        for amount in amounts
    ]
