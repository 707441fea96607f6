"""How staff pages show our figures: local times, money in its currency, quantities with units.

The API renders the same figures as JSON (``energygrid.money``); these are for people.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import format_currency, format_decimal

from energygrid.money import quantize_money

_LOCALE = "en_US"  # the admin's language (LANGUAGE_CODE)


def local_time(instant: datetime | None, timezone_name: str) -> str:
    """``2026-11-20 00:00 EST``: the instant on the meter's (or customer's) wall clock."""
    if instant is None:
        return "—"
    return instant.astimezone(ZoneInfo(timezone_name)).strftime("%Y-%m-%d %H:%M %Z")


def money(amount: Decimal | None, currency: str) -> str:
    """``$44.28``: rounded (half up) to the currency's minor unit first, as the API rounds."""
    if amount is None:
        return "—"
    return format_currency(
        quantize_money(Decimal(amount), currency),
        currency,
        locale=_LOCALE,
        decimal_quantization=False,
    )


def quantity(amount: Decimal | float | None, unit: str) -> str:
    """``1,234.568 kWh``: at most 3 decimals, as the API's quantities."""
    if amount is None:
        return "—"
    return f"{format_decimal(round(Decimal(amount), 3), format='#,##0.###', locale=_LOCALE)} {unit}"


def count(amount: Decimal | int) -> str:
    """``720`` rather than ``720.0000``; a fractional count keeps its fraction (``95.75``)."""
    value = Decimal(amount)
    return format_decimal(
        value.normalize() if value == value.to_integral() else value, locale=_LOCALE
    )


def local_span(start: datetime, end: datetime, timezone_name: str) -> str:
    """``2026-11-01 00:00 EDT to 2026-12-01 00:00 EST``: a half-open period on the wall clock."""
    return f"{local_time(start, timezone_name)} to {local_time(end, timezone_name)}"
