"""Field validators shared by the models (admin forms), the CIS import and ``add_utility``.

A bad currency or time zone stored once breaks every later money rounding or local-calendar
bucketing for that customer, so they are refused wherever such a value enters.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies
from django.core.exceptions import ValidationError

# In the tz database but not places: "localtime" is whatever the host says, "Factory" a stub.
_NOT_PLACES = frozenset({"localtime", "Factory"})


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_PLACES


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def validate_currency(value: str) -> None:
    """An ISO 4217 alphabetic code known to CLDR (the money rounding needs its minor unit)."""
    if value not in _currencies():
        raise ValidationError(
            f"unknown currency {value!r} (ISO 4217 code expected)", code="invalid_currency"
        )


def validate_timezone(value: str) -> None:
    """An IANA time zone name such as ``America/New_York``."""
    if value not in _time_zones():
        raise ValidationError(f"unknown time zone {value!r}", code="invalid_timezone")


def validate_locale(value: str) -> None:
    """A BCP 47 language tag CLDR knows (``en-US``), as clients format numbers and dates by it."""
    try:
        Locale.parse(value, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValidationError(f"unknown locale {value!r}", code="invalid_locale") from None


def validate_country(value: str) -> None:
    """An ISO 3166-1 alpha-2 country code (``US``)."""
    if not (len(value) == 2 and value.isascii() and value.isupper()) or (
        value not in Locale("en").territories
    ):
        raise ValidationError(
            f"unknown country {value!r} (ISO 3166 alpha-2 code expected)", code="invalid_country"
        )


def validate_interval_seconds(value: int) -> None:
    """A reading interval that tiles a day exactly, so intervals never straddle local midnight."""
    if value <= 0 or 86400 % value:
        raise ValidationError(
            f"{value} is not a positive divisor of 86400 seconds", code="invalid_interval"
        )
