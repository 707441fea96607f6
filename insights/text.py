"""Words and numbers for insight titles and summaries, in the customer's locale.

Texts come from Django's gettext catalogs (``insights/locale``) in the language of the
customer's ``locale`` (``es-US`` reads Spanish); numbers, money, percentages and dates are
formatted for that locale by babel (CLDR). A locale whose language has no catalog, or that
babel does not know, reads English formatted for ``en-US``: a sentence never mixes languages.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date, time
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_currency, format_decimal, format_percent
from django.utils import translation

from energygrid.money import quantize_money

FALLBACK_LOCALE = "en-US"


def language_of(locale: str) -> str:
    """The supported language (``settings.LANGUAGES``) a BCP 47 ``locale`` reads, else English."""
    try:
        return translation.get_supported_language_variant(locale.lower())
    except LookupError:
        return translation.get_supported_language_variant(FALLBACK_LOCALE.lower())


def _babel_locale(locale: str) -> Locale:
    """The locale numbers and dates are formatted for: the customer's, unless its language is
    not one insights are written in (then ``en-US``, like the words)."""
    fallback = Locale.parse(FALLBACK_LOCALE, sep="-")
    try:
        parsed = Locale.parse(locale, sep="-")
    except (UnknownLocaleError, ValueError):
        return fallback
    return parsed if language_of(locale) == parsed.language else fallback


class Wording:
    """Formats money, energy, percentages and dates for one customer, and switches gettext to
    their language while insight texts are written (:meth:`active`)."""

    def __init__(self, *, locale: str, currency: str, unit: str) -> None:
        self.language = language_of(locale)
        self.locale = _babel_locale(locale)
        self.currency = currency
        self.unit = unit

    def active(self) -> AbstractContextManager:
        """Within it, ``gettext`` translates to the customer's language."""
        return translation.override(self.language)

    def money(self, amount: Decimal) -> str:
        return format_currency(
            quantize_money(amount, self.currency), self.currency, locale=self.locale
        )

    def energy(self, quantity: float) -> str:
        return f"{format_decimal(round(quantity, 1), locale=self.locale)} {self.unit}"

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def percent(self, fraction: float) -> str:
        return format_percent(abs(fraction), locale=self.locale)

    def day(self, day: date) -> str:
        return format_date(day, format="medium", locale=self.locale)

    def month(self, day: date) -> str:
        """The month and year of ``day`` (``November 2026``, ``noviembre de 2026``)."""
        return format_skeleton("yMMMM", day, locale=self.locale)

    def hour(self, hour: int) -> str:
        """The local hour ``hour`` as the locale writes a time (``2:00 PM``, ``14:00``)."""
        return format_time(time(hour % 24), format="short", locale=self.locale)
