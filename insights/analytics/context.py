"""What the generators of one meter share: its history, the daily model fitted once, prices,
billing periods and wording, and the billing-period forecast both bill insights word.

Each insight type is one module beside its model in this package (``bill_forecast``,
``usage_anomaly``, ...): it declares ``TYPE``, ``VERSION`` and ``drafts(ctx)`` (or, for a
home-level type, ``home_drafts``), and :mod:`insights.pipeline` finds it. Nothing here
writes: :func:`insights.services.insights_generate` upserts the drafts. Energy goes into
``data`` as numbers (3 decimals), money as decimal strings in the customer's currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property

import numpy as np
import pandas as pd

from customers.models import Customer, Meter
from energygrid.money import format_money
from insights.analytics.bill import (
    PeriodForecast,
    day_range,
    expected_daily,
    fit_as_of,
    forecast_period,
)
from insights.analytics.daily_model import DailyModel
from insights.datasets import MeterHistory, meter_history
from insights.drafts import InsightDraft
from insights.text import Wording
from metadata.catalog import Granularity
from usage.calendar import local_date_start, meter_bucket_bounds, zone
from usage.pricing import price_grid

#: Days ALWAYS_ON and PEAK_TIME are about, and the fallback window for a realised price.
RECENT_DAYS = 30


def quantity(value: float) -> float:
    """An energy figure of ``data``: 3 decimals."""
    return round(float(value), 3)


def percent(fraction: float | None) -> float | None:
    """A fraction as a percentage of ``data`` (1 decimal), None when unknown."""
    return None if fraction is None or not np.isfinite(fraction) else round(fraction * 100, 1)


def decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def year_earlier(day: date) -> date:
    """The same local date a year before (29 February: the 28th)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


@dataclass(frozen=True)
class Costing:
    """The money of a period forecast: what the metered days cost (their own costs, unpriced
    ones at ``price``), and any further usage at ``price``."""

    to_date: float
    used_to_date: float
    price: float

    def of(self, quantity: float) -> float:
        return self.to_date + (quantity - self.used_to_date) * self.price


@dataclass
class MeterContext:
    """Everything the generators of one meter share, computed once."""

    customer: Customer
    meter: Meter
    history: MeterHistory

    @cached_property
    def model(self) -> DailyModel | None:
        return fit_as_of(self.history.daily, self.history.last_day)

    @cached_property
    def wording(self) -> Wording:
        return Wording(
            locale=self.customer.locale,
            currency=self.currency,
            unit=self.meter.unit_of_measure,
        )

    @property
    def currency(self) -> str:
        return self.customer.billing_currency

    @property
    def daily(self) -> pd.DataFrame:
        return self.history.daily

    @property
    def last_day(self) -> date:
        return self.history.last_day

    @cached_property
    def grid(self) -> dict[tuple[int, int], Decimal]:
        return price_grid(self.meter.tariff)

    def instant(self, day: date) -> datetime:
        """The UTC instant the meter's local ``day`` starts."""
        return local_date_start(zone(self.meter.timezone), day)

    def money(self, amount: float | None) -> str | None:
        return None if amount is None else format_money(decimal(amount), self.currency)

    def billing_period(self, day: date) -> tuple[date, date]:
        """Local dates ``[first, end)`` of the billing period holding ``day``."""
        start = self.instant(day)
        bounds = meter_bucket_bounds(
            self.meter, Granularity.BILLING_PERIOD, start, start + timedelta(seconds=1)
        )
        tz = zone(self.meter.timezone)
        return bounds[0].astimezone(tz).date(), bounds[1].astimezone(tz).date()

    def current_billing_period(self) -> tuple[date, date]:
        """The billing period the meter's data is in: the one holding ``last_day + 1``."""
        return self.billing_period(self.last_day + timedelta(days=1))

    def rows(self, first: date, end: date) -> pd.DataFrame:
        return self.daily.reindex(day_range(first, end))

    def realised_price(self, first: date, end: date) -> float | None:
        """What a unit cost on average over local dates ``[first, end)``, where priced."""
        rows = self.rows(first, end).dropna(subset=["cost", "quantity"])
        used = float(rows["quantity"].sum())
        return float(rows["cost"].sum()) / used if used > 0 else None

    def tariff_price(self) -> float | None:
        """The tariff's price averaged over the 168 hours of a week (for round-the-clock use)."""
        return float(np.mean([float(p) for p in self.grid.values()])) if self.grid else None

    def price(self, first: date, end: date) -> float | None:
        """The price to cost usage in ``[first, end)`` with: realised there, else over the
        last 30 days, else the tariff's average; None when nothing prices this meter."""
        recent = self.last_day - timedelta(days=RECENT_DAYS - 1)
        for candidate in (
            self.realised_price(first, end),
            self.realised_price(recent, self.last_day + timedelta(days=1)),
            self.tariff_price(),
        ):
            if candidate is not None:
                return candidate
        return None

    @property
    def subject_key(self) -> str:
        """What this meter's insights are about, for their uniqueness."""
        return f"meter:{self.meter.pk}"

    def draft(
        self, insight_type: str, version: str, first: date, end: date, **fields
    ) -> InsightDraft:
        """A draft of this meter's insight over its local dates ``[first, end)``."""
        return InsightDraft(
            customer=self.customer,
            type=insight_type,
            subject_key=self.subject_key,
            account=self.meter.account,
            meter=self.meter,
            period_start=self.instant(first),
            period_end=self.instant(end),
            model_version=version,
            **fields,
        )

    def filled_total(self, first: date, end: date) -> tuple[float, float]:
        """Usage over ``[first, end)`` with unread intervals completed by the model's
        expectation, and the share of intervals actually read."""
        rows = self.rows(first, end)
        coverage = rows["coverage"].fillna(0.0).clip(upper=1.0).to_numpy()
        metered = float(rows["quantity"].fillna(0.0).sum())
        if self.model is None:
            return metered, float(coverage.mean())
        expected = expected_daily(self.model, self.history.weather, rows.index)
        return metered + float(np.sum((1 - coverage) * expected)), float(coverage.mean())

    @cached_property
    def period_forecast(self) -> PeriodForecast | None:
        """The current billing period's forecast (BILL_FORECAST, HIGH_BILL_ALERT)."""
        if self.model is None:
            return None
        first, end = self.current_billing_period()
        return forecast_period(
            daily=self.daily,
            weather=self.history.weather,
            first=first,
            end=end,
            as_of=self.last_day,
            model=self.model,
        )

    @cached_property
    def costing(self) -> Costing | None:
        """The money of :attr:`period_forecast`; None without a forecast or a price."""
        forecast = self.period_forecast
        if forecast is None:
            return None
        price = self.price(forecast.first, forecast.end)
        if price is None:
            return None
        rows = self.rows(forecast.first, self.last_day + timedelta(days=1))
        unpriced = float(rows.loc[rows["cost"].isna(), "quantity"].fillna(0.0).sum())
        return Costing(
            to_date=float(rows["cost"].fillna(0.0).sum()) + unpriced * price,
            used_to_date=forecast.used_to_date,
            price=price,
        )


def meter_context(*, customer: Customer, meter: Meter) -> MeterContext | None:
    history = meter_history(meter=meter)
    return None if history is None else MeterContext(customer, meter, history)
