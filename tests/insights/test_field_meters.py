"""Insights of the meters of contract section 10: SOLAR_EXPORT for bidirectional meters,
forecasts of net usage, and billing-read meters' insights per read period."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from customers.models import Meter, Tariff, TariffRate
from insights.analytics.context import meter_context
from insights.analytics.read_period_model import fit_read_period_model
from insights.analytics.weather import heating_degree_days
from insights.backtest import loaded_meter
from insights.evaluation import insights_evaluate
from insights.models import Insight
from insights.services import ground_truth_record, insights_generate
from tests.conftest import BILLING_GAS, make_meter
from tests.insights.conftest import REGION, TIMEZONE, store_readings, store_weather
from usage.calendar import local_date_start, zone
from usage.models import Direction, Reading
from usage.rollups import rollups_rebuild
from usage.synthetic import (
    DEFAULT_IMPERFECTIONS,
    Anomaly,
    Imperfections,
    electric_intervals,
    net_metered,
    random_profile,
    sized_solar_array,
    solar_intervals,
    weather_series,
)

NEW_YORK = zone(TIMEZONE)
RECEIVED = Direction.RECEIVED


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def export_tariff(utility) -> Tariff:
    """What exported energy earns: 0.05 USD/kWh."""
    tariff = Tariff.objects.create(utility=utility, code="EXP", name="Export", currency="USD")
    TariffRate.objects.create(
        tariff=tariff, position=0, price="0.05", weekdays=127, from_hour=0, to_hour=24
    )
    return tariff


def readings(meter: Meter, rows: list[tuple[datetime, str, Direction]]) -> None:
    """Readings of (start, quantity, direction), rolled up."""
    Reading.objects.bulk_create(
        Reading(meter=meter, start=start, quantity=Decimal(quantity), direction=direction)
        for start, quantity, direction in rows
    )
    rollups_rebuild(meter=meter)


@pytest.fixture
def solar_meter(alice) -> Meter:
    """Alice's meter (billing cycle day 5), bidirectional, crediting exports at 0.05."""
    meter = Meter.objects.select_related("account").get(account__customer=alice)
    meter.bidirectional = True
    meter.export_tariff = export_tariff(alice.utility)
    meter.save()
    return meter


def a_solar_month(meter: Meter) -> None:
    """Data up to 6 May 2025, so the last complete billing period is 5 April - 5 May: it
    drew 6 kWh and sent 10 kWh back; in the same period of 2024 it sent 3 kWh."""
    readings(
        meter,
        [
            (local(2024, 4, 20, 12), "3", RECEIVED),
            (local(2025, 4, 6, 19), "2", Direction.DELIVERED),
            (local(2025, 4, 6, 12), "4", RECEIVED),
            (local(2025, 4, 20, 19), "4", Direction.DELIVERED),
            (local(2025, 4, 20, 12), "6", RECEIVED),
            (local(2025, 5, 6, 19), "1", Direction.DELIVERED),
        ],
    )


def test_solar_export_of_the_last_complete_billing_period(alice, alice_api, solar_meter):
    a_solar_month(solar_meter)

    insights_generate(customer=alice, types=["SOLAR_EXPORT"])

    response = alice_api.get("/usage/v1/Insights", {"type": "SOLAR_EXPORT"})
    assert response.status_code == 200, response.content
    [insight] = response.json()["items"]
    assert insight["meterId"] == str(solar_meter.id)
    assert (insight["periodStart"], insight["periodEnd"]) == (
        "2025-04-05T00:00:00-04:00",
        "2025-05-05T00:00:00-04:00",
    )
    assert insight["data"] == {
        "received": 10.0,
        "credit": "0.50",  # 10 kWh at the export tariff's 0.05
        "delivered": 6.0,
        "net": -4.0,
        "previousReceived": 3.0,
        "unitOfMeasure": "kWh",
    }
    assert insight["title"] == "You sent 10 kWh back to the grid"
    assert insight["summary"] == (
        "From Apr 5, 2025 to May 4, 2025 you sent 10 kWh back to the grid and drew 6 kWh from "
        "it: -4 kWh net. Your exports earned a credit of $0.50. A year earlier you sent 3 kWh."
    )


def test_no_solar_export_for_a_meter_that_only_draws(alice, solar_meter):
    solar_meter.bidirectional = False
    solar_meter.save()
    readings(
        solar_meter,
        [(local(2025, 4, 6, 19), "2", Direction.DELIVERED), (local(2025, 5, 6, 19), "1", 1)],
    )

    insights_generate(customer=alice)

    assert not Insight.objects.filter(type="SOLAR_EXPORT").exists()


def test_no_solar_export_for_a_period_without_export(alice, solar_meter):
    """It exported in March, and sent nothing (zero readings) in the last complete period."""
    readings(
        solar_meter,
        [
            (local(2025, 3, 20, 12), "5", RECEIVED),
            (local(2025, 4, 6, 19), "2", Direction.DELIVERED),
            (local(2025, 4, 6, 12), "0", RECEIVED),
            (local(2025, 5, 6, 19), "1", Direction.DELIVERED),
        ],
    )

    insights_generate(customer=alice, types=["SOLAR_EXPORT"])

    assert not Insight.objects.filter(type="SOLAR_EXPORT").exists()


def test_a_us_spanish_customer_reads_solar_export_in_spanish(alice, solar_meter):
    alice.locale = "es-US"
    alice.save()
    a_solar_month(solar_meter)

    insights_generate(customer=alice, types=["SOLAR_EXPORT"])

    insight = Insight.objects.get(type="SOLAR_EXPORT")
    assert insight.title == "Envió 10 kWh a la red"
    assert insight.summary.startswith("Del 5 abr 2025 al 4 may 2025 envió 10 kWh a la red")
    assert "un crédito de $0.50" in insight.summary


# --- net usage of a solar home ----------------------------------------------------------------


def a_solar_home(
    meter: Meter,
    *,
    days: int,
    imperfections: Imperfections = DEFAULT_IMPERFECTIONS,
    extra_load: Callable[[np.ndarray], np.ndarray] | None = None,
    sunshine: Callable[[np.ndarray], np.ndarray] | None = None,
) -> None:
    """``days`` of a Boston spring and summer from 1 April 2025 at a solar home (seeded): the
    weather, the home's 15-minute load plus ``extra_load`` (kWh per interval, from the
    intervals' UTC starts), a roof sized to it yielding ``sunshine`` of its output (a share
    per interval), both channels stored and rolled up."""
    start = date(2025, 4, 1)
    rng = np.random.default_rng(3)
    temperatures = weather_series(region=REGION, start=start, days=days, seed=1)
    store_weather(REGION, start, temperatures)
    load = electric_intervals(
        profile=random_profile(rng),
        start_utc=local_date_start(NEW_YORK, start),
        days=days,
        tz=TIMEZONE,
        temperatures=temperatures,
        seed=3,
        imperfections=imperfections,
    )
    if extra_load is not None:
        load = dataclasses.replace(load, quantities=load.quantities + extra_load(load.starts))
    generation = solar_intervals(
        array=sized_solar_array(rng, load=load, region=REGION),
        region=REGION,
        starts=load.starts,
        interval_seconds=900,
        seed=3,
    )
    if sunshine is not None:
        generation = generation * sunshine(load.starts)
    delivered, received = net_metered(load, generation)
    store_readings(meter, delivered)
    store_readings(meter, received, RECEIVED)
    rollups_rebuild(meter=meter)


def test_the_bill_forecast_of_a_solar_home_is_of_net_usage(alice, solar_meter):
    """Ten weeks of a spring and summer in Boston, the roof sending back its surplus: the
    forecast counts what was drawn less what was sent, not the drawn energy alone."""
    a_solar_home(solar_meter, days=70)

    insights_generate(customer=alice, types=["BILL_FORECAST", "SOLAR_EXPORT"])

    forecast = Insight.objects.get(type="BILL_FORECAST")
    # The period holding the day after the data: 5 June - 5 July, with data to 9 June.
    assert forecast.period_start == local(2025, 6, 5)
    so_far = Reading.objects.filter(
        meter=solar_meter, start__gte=local(2025, 6, 5), start__lt=local(2025, 6, 10)
    )
    drawn = sum(r.quantity for r in so_far if r.direction == Direction.DELIVERED)
    sent = sum(r.quantity for r in so_far if r.direction == RECEIVED)
    assert sent > 0
    assert forecast.data["usedToDate"] == pytest.approx(float(drawn - sent), abs=0.001)
    assert forecast.data["forecastQuantity"] < float(drawn) / 5 * 30  # not the drawn rate
    # The last complete period, 5 May - 5 June, exported too.
    export = Insight.objects.get(type="SOLAR_EXPORT")
    assert export.period_start == local(2025, 5, 5)
    assert export.data["received"] > 0


#: The day of a solar home's heater (:func:`a_solar_summer_with_a_heater`).
HEATER_DAY = date(2025, 6, 25)


def a_solar_summer_with_a_heater(meter: Meter) -> None:
    """A spring and summer (100 days from 1 April 2025) of a solar home whose roof makes about
    what it uses: its net days are near or under zero, and a cloud takes kilowatts off the
    roof for hours. On :data:`HEATER_DAY` a 2 kW heater ran from 16:00 to 22:00 (+12 kWh);
    its ground truth records that day alone."""
    a_solar_home(
        meter,
        days=100,
        imperfections=Imperfections(anomalies_per_year=0),
        extra_load=lambda starts: np.where(
            (starts >= local(2025, 6, 25, 16).timestamp())
            & (starts < local(2025, 6, 25, 22).timestamp()),
            0.5,
            0.0,
        ),
    )
    ground_truth_record(
        meter=meter,
        baseload_watts=None,
        anomalies=[Anomaly(HEATER_DAY, 12.0)],
    )


def test_an_extra_load_at_a_solar_home_is_an_anomaly(alice, solar_meter):
    """The heater is found in what the home drew from the grid (the scan's DELIVERED
    channel); net, the day's expectation was clipped at zero and the day never scored."""
    a_solar_summer_with_a_heater(solar_meter)

    insights_generate(customer=alice, types=["USAGE_ANOMALY"])

    flagged = {
        insight.period_start.astimezone(NEW_YORK).date(): insight
        for insight in Insight.objects.filter(type="USAGE_ANOMALY", meter=solar_meter)
    }
    assert HEATER_DAY in flagged
    assert len(flagged) <= 2
    data = flagged[HEATER_DAY].data
    assert data["excessQuantity"] > 6.0
    assert data["actualQuantity"] > data["excessQuantity"] > 0


def test_a_cloudy_day_at_a_solar_home_is_no_anomaly(alice, solar_meter):
    """A day the roof yields a tenth of its output, the home drawing kilowatts more at noon
    than on its sunny days: the roof's hours say nothing of the home's own use."""
    cloudy = date(2025, 6, 25)
    a_solar_home(
        solar_meter,
        days=100,
        imperfections=Imperfections(anomalies_per_year=0),
        sunshine=lambda starts: np.where(
            (starts >= local(2025, 6, 25).timestamp()) & (starts < local(2025, 6, 26).timestamp()),
            0.1,
            1.0,
        ),
    )

    insights_generate(customer=alice, types=["USAGE_ANOMALY"])

    flagged = {
        insight.period_start.astimezone(NEW_YORK).date()
        for insight in Insight.objects.filter(type="USAGE_ANOMALY", meter=solar_meter)
    }
    assert cloudy not in flagged


def test_the_backtest_scans_a_solar_home_as_the_nightly_run_does(alice, solar_meter):
    """``evaluate_insights`` on the loaded data reads the DELIVERED channel of a bidirectional
    meter too, and finds the heater against the ground truth."""
    a_solar_summer_with_a_heater(solar_meter)
    meter = loaded_meter(meter_context(customer=alice, meter=solar_meter))
    assert meter.anomaly_daily["quantity"].min() >= 0 > meter.daily["quantity"].min()

    report = insights_evaluate(meters=[meter])

    assert report.anomalies.injected == 1
    assert report.anomalies.correct == 1


# --- billing-read meters ----------------------------------------------------------------------


#: Read periods of the gas meter: 10 reads of 28-33 days from 3 January to 4 November 2024.
READ_LENGTHS = [31, 29, 33, 30, 28, 32, 31, 30, 33, 29]
GAS_BASE, GAS_PER_HDD = 0.8, 0.35  # therm/day, therm per °C-day below 16 °C


@pytest.fixture
def gas_reads(alice):
    """A billing-read gas meter of alice, read every 28-33 days through 2024 at a usage of
    0.8 therm/day + 0.35 per heating degree day (16 °C), ±3 %; its last read ends on 4 Nov."""
    start = date(2024, 1, 3)
    temperatures = weather_series(region=REGION, start=start, days=400, seed=1)
    store_weather(REGION, start, temperatures)
    account = alice.accounts.get()
    gas = make_meter(
        account,
        "G-ALICE-1",
        **BILLING_GAS,
    )
    rng = np.random.default_rng(5)
    first, offset, rows = start, 0, []
    for length in READ_LENGTHS:
        days = temperatures[offset : offset + length]
        usage = length * GAS_BASE + GAS_PER_HDD * heating_degree_days(days, 16.0).sum()
        quantity = Decimal(f"{usage * rng.uniform(0.97, 1.03):.3f}")
        end = first + timedelta(days=length)
        rows.append((local_date_start(NEW_YORK, first), local_date_start(NEW_YORK, end), quantity))
        first, offset = end, offset + length
    Reading.objects.bulk_create(
        Reading(meter=gas, start=lo, end=hi, quantity=q) for lo, hi, q in rows
    )
    rollups_rebuild(meter=gas)
    return gas, rows


def test_a_billing_read_meter_is_forecast_and_compared_per_read_period(alice, gas_reads):
    gas, rows = gas_reads

    insights_generate(customer=alice)

    insights = {i.type: i for i in Insight.objects.filter(meter=gas)}
    assert set(insights) == {"BILL_FORECAST", "HIGH_BILL_ALERT", "PERIOD_COMPARISON"}
    # The read period in progress: from the last read for the median length of the last six
    # (28, 32, 31, 30, 33, 29: 30.5, so 30 whole days).
    forecast = insights["BILL_FORECAST"]
    last_end = rows[-1][1]
    assert (forecast.period_start, forecast.period_end) == (last_end, last_end + timedelta(days=30))
    assert forecast.data["modelKind"] == "heating"
    assert forecast.data["usedToDate"] == 0
    assert forecast.data["daysInPeriod"] == 30
    temperatures = weather_series(region=REGION, start=date(2024, 1, 3), days=400, seed=1)
    offset = sum(READ_LENGTHS)
    truth = (
        30 * GAS_BASE
        + GAS_PER_HDD * heating_degree_days(temperatures[offset : offset + 30], 16.0).sum()
    )
    assert forecast.data["forecastQuantity"] == pytest.approx(truth, rel=0.1)
    low, high = forecast.data["forecastQuantityLow"], forecast.data["forecastQuantityHigh"]
    assert low < forecast.data["forecastQuantity"] < high
    # 0.15 USD a therm (the flat tariff): the bill is the quantity at that price.
    assert Decimal(forecast.data["forecastCost"]) == pytest.approx(
        Decimal(str(forecast.data["forecastQuantity"])) * Decimal("0.15"), abs=Decimal("0.01")
    )
    # Winter coming: well above the last read (October), for the weather.
    alert = insights["HIGH_BILL_ALERT"]
    assert alert.period_start == last_end
    assert Decimal(alert.data["previousCost"]) == (rows[-1][2] * Decimal("0.15")).quantize(
        Decimal("0.01")
    )
    assert alert.data["driver"] == "WEATHER"
    # The last read period against the one before and the one a year earlier (none: the
    # reads began in January 2024).
    comparison = insights["PERIOD_COMPARISON"]
    assert (comparison.period_start, comparison.period_end) == rows[-1][:2]
    assert comparison.data["currentQuantity"] == pytest.approx(float(rows[-1][2]), abs=0.001)
    assert comparison.data["previousQuantity"] == pytest.approx(float(rows[-2][2]), abs=0.001)
    assert comparison.data["yearAgoQuantity"] is None
    assert comparison.data["weatherAdjustedChangePercent"] is not None
    assert abs(comparison.data["weatherAdjustedChangePercent"]) < 10  # the same home


def test_the_read_period_model_finds_the_heating_slope_and_falls_back_without_weather():
    rng = np.random.default_rng(2)
    temperatures = [rng.normal(mean, 3, size=30) for mean in np.linspace(-5, 25, 12)]
    days = np.full(12, 30.0)
    usage = np.array([30 * 1.0 + 0.5 * heating_degree_days(t, 15.0).sum() for t in temperatures])

    model = fit_read_period_model(usage, days, temperatures)

    assert (model.kind, model.heating_balance_c) == ("heating", 15.0)
    assert model.results.params == pytest.approx([1.0, 0.5])
    assert model.total(temperatures[0], 30).point == pytest.approx(usage[0])
    unknown = [np.full(30, np.nan)] * 12
    assert fit_read_period_model(usage, days, unknown).kind == "calendar"
    assert fit_read_period_model(usage[:5], days[:5], temperatures[:5]) is None
