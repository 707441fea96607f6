"""Words and numbers for insight titles and summaries, in the customer's locale."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

from energygrid.money import quantize_money


class Wording:
    """Formats money, energy, percentages and dates for one customer."""

    def __init__(self, *, locale: str, currency: str, unit: str) -> None:
        try:
            self.locale = Locale.parse(locale, sep="-")
        except (UnknownLocaleError, ValueError):
            self.locale = Locale.parse("en_US")
        self.currency = currency
        self.unit = unit

    def money(self, amount: Decimal) -> str:
        return format_currency(
            quantize_money(amount, self.currency), self.currency, locale=self.locale
        )

    def energy(self, quantity: float) -> str:
        return f"{format_decimal(round(quantity, 1), locale=self.locale)} {self.unit}"

    def percent(self, fraction: float) -> str:
        return format_percent(abs(fraction), locale=self.locale)

    def day(self, day: date) -> str:
        return format_date(day, format="medium", locale=self.locale)

    def span(self, first: date, last: date) -> str:
        return f"{self.day(first)} to {self.day(last)}"
