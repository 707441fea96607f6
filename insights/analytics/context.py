"""What the generators of one meter share: its history, the model fitted once, prices,
billing periods and wording, and the billing-period forecast both bill insights word.

An interval meter's context is a :class:`MeterContext` (its DAY rollups and the daily model);
a billing-read meter's a :class:`ReadPeriodContext` (its read periods and the read-period
model, contract 10.2). Each insight type is one module beside its model in this package
(``bill_forecast``, ``usage_anomaly``, ...): it declares ``TYPE``, ``VERSION`` and
``drafts(ctx)`` for interval meters, ``read_period_drafts(ctx)`` if it also speaks of read
periods (or, for a home-level type, ``home_drafts``), and :mod:`insights.pipeline` finds it.
Nothing here writes: :func:`insights.services.insights_generate` upserts the drafts. Energy
goes into ``data`` as numbers (3 decimals), money as decimal strings in the customer's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property

import numpy as np
import pandas as pd
from django.utils import timezone

from customers.models import Customer, Meter
from energygrid.money import format_money
from insights.analytics.bill import (
    PeriodForecast,
    day_range,
    expected_daily,
    fit_as_of,
    forecast_period,
    temperatures_for,
)
from insights.analytics.daily_model import DailyModel
from insights.analytics.forecast import Total
from insights.analytics.read_period_model import ReadPeriodModel, fit_read_period_model
from insights.datasets import (
    MeterHistory,
    meter_history,
    meter_weather_region,
    read_periods,
    region_weather,
)
from insights.drafts import InsightDraft
from insights.text import Wording
from metadata.catalog import Granularity
from usage.calendar import local_date_start, meter_bucket_bounds, zone
from usage.pricing import price_grid

#: Days ALWAYS_ON and PEAK_TIME are about, and the fallback window for a realised price.
RECENT_DAYS = 30
#: Read periods a read-period model is trained on: those starting this close to the last read.
READ_PERIOD_TRAINING = timedelta(days=365)
#: The read period "a year earlier" starts at most this far from exactly a year before.
YEAR_EARLIER_TOLERANCE = timedelta(days=15)
#: The length of a read period not read yet: the median of this many last ones.
READ_LENGTH_PERIODS = 6
_MICROSECOND = timedelta(microseconds=1)


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


@dataclass(frozen=True)
class Span:
    """A period an insight is about: UTC instants ``[start, end)`` and, for its words, the
    first and last local dates it spans."""

    start: datetime
    end: datetime
    first: date
    last: date


@dataclass
class BaseContext:
    """What the contexts of interval and billing-read meters have in common."""

    customer: Customer
    meter: Meter

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

    @cached_property
    def grid(self) -> dict[tuple[int, int], Decimal]:
        return price_grid(self.meter.tariff)

    def tariff_price(self) -> float | None:
        """The tariff's price averaged over the 168 hours of a week (for round-the-clock use)."""
        return float(np.mean([float(p) for p in self.grid.values()])) if self.grid else None

    def instant(self, day: date) -> datetime:
        """The UTC instant the meter's local ``day`` starts."""
        return local_date_start(zone(self.meter.timezone), day)

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(zone(self.meter.timezone)).date()

    def span(self, start: datetime, end: datetime) -> Span:
        """The span of instants ``[start, end)``."""
        return Span(start, end, self.local_date(start), self.local_date(end - _MICROSECOND))

    def money(self, amount: float | None) -> str | None:
        return None if amount is None else format_money(decimal(amount), self.currency)

    @property
    def subject_key(self) -> str:
        """What this meter's insights are about, for their uniqueness."""
        return f"meter:{self.meter.pk}"

    def draft_span(self, insight_type: str, version: str, span: Span, **fields) -> InsightDraft:
        """A draft of this meter's insight over ``span``."""
        return InsightDraft(
            customer=self.customer,
            type=insight_type,
            subject_key=self.subject_key,
            account=self.meter.account,
            meter=self.meter,
            period_start=span.start,
            period_end=span.end,
            model_version=version,
            **fields,
        )


@dataclass
class MeterContext(BaseContext):
    """Everything the generators of one interval meter share, computed once."""

    history: MeterHistory

    @cached_property
    def model(self) -> DailyModel | None:
        model = fit_as_of(self.history.daily, self.history.last_day)
        # A bidirectional meter's net usage is below zero on days it exports more.
        return model.of_net_usage() if model is not None and self.meter.bidirectional else model

    @property
    def daily(self) -> pd.DataFrame:
        return self.history.daily

    @property
    def last_day(self) -> date:
        return self.history.last_day

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

    def current_period_start(self) -> datetime:
        """When the current billing period starts (what HIGH_BILL_ALERT is about)."""
        return self.instant(self.current_billing_period()[0])

    def dates_span(self, first: date, end: date) -> Span:
        """The span of local dates ``[first, end)``."""
        return Span(self.instant(first), self.instant(end), first, end - timedelta(days=1))

    def last_complete_period(self) -> Span:
        """The billing period before the current one."""
        first = self.current_billing_period()[0]
        return self.dates_span(*self.billing_period(first - timedelta(days=1)))

    def year_before(self, span: Span) -> Span:
        """The billing period holding the same local date a year before ``span`` starts."""
        return self.dates_span(*self.billing_period(year_earlier(span.first)))

    def rows(self, first: date, end: date) -> pd.DataFrame:
        return self.daily.reindex(day_range(first, end))

    def realised_price(
        self, first: date, end: date, daily: pd.DataFrame | None = None
    ) -> float | None:
        """What a unit cost on average over local dates ``[first, end)``, where priced (of
        ``daily``, a frame like :attr:`daily`, if given: a bidirectional meter's DELIVERED
        channel is priced at the import tariff alone)."""
        source = self.daily if daily is None else daily
        rows = source.reindex(day_range(first, end)).dropna(subset=["cost", "quantity"])
        used = float(rows["quantity"].sum())
        return float(rows["cost"].sum()) / used if used > 0 else None

    def price(self, first: date, end: date, daily: pd.DataFrame | None = None) -> float | None:
        """The price to cost usage in ``[first, end)`` with: realised there, else over the
        last 30 days, else the tariff's average; None when nothing prices this meter.
        ``daily``: realised in that frame rather than :attr:`daily`."""
        recent = self.last_day - timedelta(days=RECENT_DAYS - 1)
        for candidate in (
            self.realised_price(first, end, daily),
            self.realised_price(recent, self.last_day + timedelta(days=1), daily),
            self.tariff_price(),
        ):
            if candidate is not None:
                return candidate
        return None

    def draft(
        self, insight_type: str, version: str, first: date, end: date, **fields
    ) -> InsightDraft:
        """A draft of this meter's insight over its local dates ``[first, end)``."""
        return self.draft_span(insight_type, version, self.dates_span(first, end), **fields)

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
    """An interval meter's context; None for a meter without a complete day of data, or a
    billing-read one."""
    if meter.billing_read:
        return None
    history = meter_history(meter=meter)
    return None if history is None else MeterContext(customer, meter, history)


@dataclass(frozen=True)
class ReadPeriodForecast:
    """The forecast of the read period in progress (not read yet) of a billing-read meter;
    the figures :mod:`insights.analytics.bill_forecast` words, as a ``PeriodForecast``'s."""

    span: Span
    model: ReadPeriodModel
    total: Total
    elapsed_days: int
    days: int
    expected_daily_mean: float
    used_to_date: float = 0.0
    """Nothing of a read period is known before it is read."""

    @property
    def quantity(self) -> float:
        return self.total.point

    @property
    def low(self) -> float:
        return self.total.low

    @property
    def high(self) -> float:
        return self.total.high


@dataclass
class ReadPeriodContext(BaseContext):
    """Everything the generators of one billing-read meter share: its read periods (net
    ``quantity`` and ``cost``, by ``start`` and ``end``) and the read-period model."""

    periods: pd.DataFrame
    weather: pd.Series
    today: date

    @cached_property
    def spans(self) -> list[Span]:
        return [
            self.span(row.start.to_pydatetime(), row.end.to_pydatetime())
            for row in self.periods.itertuples()
        ]

    @property
    def last_day(self) -> date:
        return self.spans[-1].last

    def dates(self, span: Span) -> pd.DatetimeIndex:
        return pd.date_range(span.first, span.last, freq="D")

    def temperatures(self, span: Span) -> np.ndarray:
        """The span's daily temperatures: observed where known, else the normals."""
        return temperatures_for(self.weather, self.dates(span))[0]

    @cached_property
    def model(self) -> ReadPeriodModel | None:
        """Fitted on the read periods of the year up to the last read."""
        training = self.periods[self.periods["start"] >= self.spans[-1].end - READ_PERIOD_TRAINING]
        observed = [
            self.weather.reindex(self.dates(self.spans[index])).to_numpy(dtype=float)
            for index in training.index
        ]
        days = (training["end"] - training["start"]).dt.total_seconds() / 86400
        model = fit_read_period_model(training["quantity"].to_numpy(), days.to_numpy(), observed)
        if model is not None and self.meter.bidirectional:
            model = replace(model, net=True)
        return model

    def expected_per_day(self, span: Span) -> float:
        assert self.model is not None
        return self.model.per_day(self.temperatures(span) if self.model.uses_weather else None)

    def current_span(self) -> Span:
        """The read period in progress: from the last read for the median length of the last
        :data:`READ_LENGTH_PERIODS` read periods, in whole local days (rounded down)."""
        lengths = [len(self.dates(span)) for span in self.spans[-READ_LENGTH_PERIODS:]]
        start = self.spans[-1].end
        first = self.local_date(start)
        return self.span(start, self.instant(first + timedelta(days=int(np.median(lengths)))))

    def current_period_start(self) -> datetime:
        return self.current_span().start

    def last_complete_period(self) -> Span:
        """The last read period."""
        return self.spans[-1]

    def year_before(self, span: Span) -> Span | None:
        """The read period starting closest to a year before ``span``, within
        :data:`YEAR_EARLIER_TOLERANCE`."""
        target = self.instant(year_earlier(span.first))
        nearest = min(self.spans, key=lambda other: abs(other.start - target))
        return nearest if abs(nearest.start - target) <= YEAR_EARLIER_TOLERANCE else None

    def price(self) -> float | None:
        """What a unit cost over the last year's priced read periods, else the tariff's
        average; None when nothing prices this meter."""
        recent = self.periods[self.periods["start"] >= self.spans[-1].end - READ_PERIOD_TRAINING]
        priced = recent.dropna(subset=["cost"])
        used = float(priced["quantity"].sum())
        return float(priced["cost"].sum()) / used if used > 0 else self.tariff_price()

    def read_quantity(self, span: Span) -> float:
        """What the read period ``span`` (one of :attr:`spans`) measured, net."""
        return float(self.periods["quantity"].iloc[self.spans.index(span)])

    def read_cost(self, span: Span) -> float | None:
        """What the read period ``span`` cost: its own net cost, else its quantity at the
        price; None when nothing prices it."""
        cost = float(self.periods["cost"].iloc[self.spans.index(span)])
        if not np.isnan(cost):
            return cost
        price = self.price()
        return None if price is None else self.read_quantity(span) * price

    @cached_property
    def period_forecast(self) -> ReadPeriodForecast | None:
        """The forecast of the read period in progress (BILL_FORECAST, HIGH_BILL_ALERT)."""
        if self.model is None:
            return None
        span = self.current_span()
        temperature = self.temperatures(span) if self.model.uses_weather else None
        days = len(self.dates(span))
        return ReadPeriodForecast(
            span=span,
            model=self.model,
            total=self.model.total(temperature, days),
            elapsed_days=min(days, max(0, (self.today - span.first).days)),
            days=days,
            expected_daily_mean=self.model.per_day(temperature),
        )

    @cached_property
    def costing(self) -> Costing | None:
        """The money of :attr:`period_forecast`: nothing read yet, all of it at the price."""
        price = self.price()
        if self.period_forecast is None or price is None:
            return None
        return Costing(to_date=0.0, used_to_date=0.0, price=price)


def read_period_context(*, customer: Customer, meter: Meter) -> ReadPeriodContext | None:
    """A billing-read meter's context; None when it has no read period yet."""
    periods = read_periods(meter=meter)
    if periods.empty:
        return None
    today = timezone.now().astimezone(zone(meter.timezone)).date()
    weather = region_weather(meter_weather_region(meter))
    return ReadPeriodContext(customer, meter, periods, weather, today)


def insight_context(*, customer: Customer, meter: Meter) -> MeterContext | ReadPeriodContext | None:
    """The context the meter's insights are drafted from: by its read resolution."""
    if meter.billing_read:
        return read_period_context(customer=customer, meter=meter)
    return meter_context(customer=customer, meter=meter)
