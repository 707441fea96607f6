"""Money as Decimal, rounded once, to the currency's ISO 4217 minor unit."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel.numbers import get_currency_precision


@cache
def currency_places(currency: str) -> int:
    """The decimal places of ``currency``'s minor unit (ISO 4217): USD 2, JPY 0, BHD 3."""
    return get_currency_precision(currency)


@cache
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_places(currency))


def quantize_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded (half up) to ``currency``'s minor unit: USD 0.01, JPY 1."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | None, currency: str) -> str | None:
    """The API's money representation: a decimal string in the minor unit (``"12.34"``), never
    a negative zero (``-0.001`` USD is ``"0.00"``, as PostgreSQL's ``ROUND`` writes it)."""
    return format_moneys([amount], currency)[0]


def format_moneys(amounts: Iterable[Decimal | str | None], currency: str) -> list[str | None]:
    """:func:`format_money` of each of ``amounts`` (a column of a page)."""
    return [None if amount is None else _text(Decimal(amount), currency) for amount in amounts]


def _text(amount: Decimal, currency: str) -> str:
    rounded = quantize_money(amount, currency)
    return str(rounded if rounded else rounded.copy_abs())
