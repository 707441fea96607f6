"""The pipeline: every type generated from synthetic data, idempotent reruns, peer privacy,
the ground-truth service, the tasks and the generate_insights command."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer, Meter, Premise, Tariff, TariffRate, Weekday
from insights import tasks
from insights.analytics import baseload
from insights.analytics.always_on import estimate_baseload
from insights.analytics.context import meter_context
from insights.datasets import interval_frame, night_demand, night_interval_demand
from insights.models import Insight, MeterGroundTruth
from insights.pipeline import MODEL_VERSIONS
from insights.services import ground_truth_record, insights_generate
from tests.conftest import make_account, make_customer, make_meter
from tests.insights.conftest import TIMEZONE
from usage.calendar import local_date_start, zone
from usage.models import Reading
from usage.rollups import rollups_rebuild
from usage.synthetic import Imperfections, electric_intervals, random_profile, weather_series


def test_ground_truth_is_recorded_from_the_generators_output(alice):
    meter = Meter.objects.get(account__customer=alice)
    start = date(2025, 1, 1)
    series = electric_intervals(
        profile=random_profile(np.random.default_rng(3)),
        start_utc=local_date_start(zone(TIMEZONE), start),
        days=60,
        tz=TIMEZONE,
        temperatures=weather_series(region="BOS", start=start, days=60, seed=3),
        seed=3,
        imperfections=Imperfections(anomalies_per_year=30),
    )
    truth = series.ground_truth
    assert truth.anomalies

    ground_truth_record(meter=meter, baseload_watts=truth.baseload_watts, anomalies=truth.anomalies)
    ground_truth_record(meter=meter, baseload_watts=truth.baseload_watts, anomalies=truth.anomalies)

    stored = MeterGroundTruth.objects.get(meter=meter)
    assert stored.baseload_watts == truth.baseload_watts
    assert stored.anomalies == [
        {"date": a.local_date.isoformat(), "excess": a.excess} for a in truth.anomalies
    ]


def tou_tariff(utility) -> Tariff:
    """Peak 0.31 on weekdays 16:00-21:00 local, else 0.12."""
    tariff = Tariff.objects.create(utility=utility, code="TOU-1", name="TOU", currency="USD")
    weekdays = Weekday.MON | Weekday.TUE | Weekday.WED | Weekday.THU | Weekday.FRI
    TariffRate.objects.create(
        tariff=tariff, position=0, price="0.31", weekdays=weekdays, from_hour=16, to_hour=21
    )
    TariffRate.objects.create(
        tariff=tariff, position=1, price="0.12", weekdays=127, from_hour=0, to_hour=24
    )
    return tariff


def test_synthetic_home_gets_every_type_and_reruns_update_in_place(alice, synthetic):
    meter, series = synthetic(
        seed=7, start=date(2025, 4, 1), days=100, tariff=tou_tariff(alice.utility)
    )

    written = insights_generate(customer=alice)

    insights = {i.type: i for i in Insight.objects.filter(meter=meter)}
    assert written == Insight.objects.count()
    assert {"BILL_FORECAST", "PERIOD_COMPARISON", "ALWAYS_ON", "PEAK_TIME"} <= set(insights)
    for insight in insights.values():
        assert insight.model_version == MODEL_VERSIONS[insight.type]
        assert insight.title and insight.summary

    forecast = insights["BILL_FORECAST"].data
    low, cost, high = (
        Decimal(forecast[k]) for k in ("forecastCostLow", "forecastCost", "forecastCostHigh")
    )
    assert low <= cost <= high
    assert Decimal(forecast["costToDate"]) <= cost
    assert forecast["forecastCost"] == str(cost.quantize(Decimal("0.01")))
    assert forecast["modelKind"] in {"heating", "cooling", "heating_cooling", "intercept"}

    always_on = insights["ALWAYS_ON"].data
    true_watts = series.ground_truth.baseload_watts
    assert always_on["baseloadWatts"] == pytest.approx(true_watts, rel=0.1)
    assert always_on["annualQuantity"] == pytest.approx(always_on["baseloadWatts"] * 8.76, rel=1e-3)
    assert 0 < always_on["shareOfUsage"] < 1

    peak = insights["PEAK_TIME"].data
    assert 0 <= peak["peakHour"] <= 23
    assert Decimal(peak["shiftableSavingPerMonth"]) > 0  # time-of-use: shifting pays

    comparison = insights["PERIOD_COMPARISON"].data
    assert comparison["yearAgoQuantity"] is None  # 100 days of history: no year ago

    # The customer reads one and rates another; a rerun rewrites figures but keeps those.
    Insight.objects.filter(pk=insights["ALWAYS_ON"].pk).update(status="READ", feedback="HELPFUL")
    Insight.objects.filter(pk=insights["PEAK_TIME"].pk).update(status="DISMISSED")
    before = {i.pk: i.generated_at for i in Insight.objects.all()}

    insights_generate(customer=alice)

    after = {i.pk: i for i in Insight.objects.all()}
    assert set(after) == set(before)
    assert all(after[pk].generated_at > before[pk] for pk in before)
    assert (after[insights["ALWAYS_ON"].pk].status, after[insights["ALWAYS_ON"].pk].feedback) == (
        "READ",
        "HELPFUL",
    )
    assert after[insights["PEAK_TIME"].pk].status == "DISMISSED"


# --- high-bill alerts follow the forecast ----------------------------------------------------

STEP_START = date(2025, 3, 1)
STEP_FROM = date(2025, 5, 5)  # a billing period starts (cycle day 5)
STEP_LAST_DAY = date(2025, 5, 14)  # 10 days into it


def stepped_home(customer: Customer, number: str) -> Meter:
    """A home of ``customer`` with a daily meter: 10 kWh a day, then 30 from ``STEP_FROM``."""
    meter = make_meter(make_account(customer, number), f"D-{number}", interval_seconds=86400)
    tz = zone(meter.timezone)
    days = (STEP_LAST_DAY - STEP_START).days + 1
    Reading.objects.bulk_create(
        Reading(
            meter=meter,
            start=local_date_start(tz, day),
            quantity=Decimal("30" if day >= STEP_FROM else "10"),
        )
        for day in (STEP_START + timedelta(days=i) for i in range(days))
    )
    rollups_rebuild(meter=Meter.objects.select_related("account").get(pk=meter.pk))
    return meter


def test_a_current_high_bill_alert_whose_forecast_fell_is_withdrawn(alice):
    rising = stepped_home(alice, "A0000001")
    other = stepped_home(alice, "A0000002")
    tz = zone(rising.timezone)
    current = local_date_start(tz, STEP_FROM)
    # An alert of a period that has ended is history, whatever later forecasts say.
    ended = Insight.objects.create(
        customer=alice,
        type="HIGH_BILL_ALERT",
        subject_key=f"meter:{rising.pk}",
        account=rising.account,
        meter=rising,
        period_start=local_date_start(tz, date(2025, 4, 5)),
        period_end=current,
        title="Your bill may be 25 % higher than last period",
        summary="...",
        generated_at=current,
        model_version="high-bill/1.0",
    )
    alerts = Insight.objects.filter(type="HIGH_BILL_ALERT", period_start=current)

    # 10 days at 30 kWh where the last period's were 10: both homes are on track for more.
    insights_generate(customer=alice)
    assert sorted(alerts.values_list("meter_id", flat=True)) == sorted([rising.pk, other.pk])
    alerts.update(status="READ")
    Insight.objects.filter(type="BILL_FORECAST").update(status="READ", feedback="HELPFUL")

    insights_generate(customer=alice)  # still high: updated in place, still read
    assert list(alerts.values_list("status", flat=True)) == ["READ", "READ"]

    # The utility corrects rising's readings since 5 May to 10 kWh a day: its forecast falls.
    Reading.objects.filter(meter=rising, start__gte=current).update(quantity=Decimal("10"))
    rollups_rebuild(meter=Meter.objects.select_related("account").get(pk=rising.pk))

    insights_generate(customer=alice, types=["BILL_FORECAST"])  # not about alerts: kept
    assert alerts.count() == 2

    insights_generate(customer=alice)

    assert list(alerts.values_list("meter_id", flat=True)) == [other.pk]
    assert Insight.objects.filter(pk=ended.pk).exists()
    forecasts = Insight.objects.filter(type="BILL_FORECAST", period_start=current)
    assert forecasts.count() == 2
    assert set(forecasts.values_list("status", "feedback")) == {("READ", "HELPFUL")}
    rising_forecast = forecasts.get(meter=rising).data
    assert rising_forecast["usedToDate"] == pytest.approx(100)


# --- always-on -------------------------------------------------------------------------------


def test_always_on_in_a_first_winter_finds_the_baseload_between_compressor_cycles(alice, synthetic):
    """History starting on 1 December in Boston, in an electrically heated home: no night of
    it was mild, and the heat pump cycles in every night-time hour. The 15-minute intervals
    between its cycles still show the always-on power."""
    meter, series = synthetic(seed=18, start=date(2024, 12, 1), days=45)
    true_watts = series.ground_truth.baseload_watts
    ctx = meter_context(customer=alice, meter=meter)
    assert ctx.model.uses_weather

    assert estimate_baseload(ctx) == pytest.approx(true_watts, rel=0.05)
    # What hourly averages (always-on/1.0) made of the same nights: several times too much.
    hourly = baseload.baseload_watts(
        night_demand(meter=meter, last_day=ctx.last_day), last_day=ctx.last_day, degree_days=None
    )
    assert hourly > 2 * true_watts

    insights_generate(customer=alice, types=["ALWAYS_ON"])
    insight = Insight.objects.get(meter=meter, type="ALWAYS_ON")
    assert insight.model_version == "always-on/1.4"
    assert insight.data["baseloadWatts"] == pytest.approx(true_watts, rel=0.05)


def test_night_interval_demand_reads_the_measured_night_intervals_of_the_nights_asked(alice):
    meter = make_meter(make_account(alice, "N-1"), "E-NIGHT-1", timezone=TIMEZONE)
    tz = zone(TIMEZONE)
    nights = [date(2025, 3, 8), date(2025, 3, 9)]  # 9 March: clocks spring forward at 02:00
    first = local_date_start(tz, nights[0]) - timedelta(hours=1)
    starts = [first + timedelta(minutes=15 * i) for i in range(4 * 60)]  # through 10 March
    Reading.objects.bulk_create(
        Reading(
            meter=meter,
            start=start,
            quantity=Decimal("0.050"),  # 200 W for a quarter-hour
            quality="ESTIMATED" if start.astimezone(tz).hour == 2 else "ACTUAL",
        )
        for start in starts
    )

    demand = night_interval_demand(meter=meter, nights=[pd.Timestamp(n) for n in nights])

    # 00:00-04:59 local without 02:xx (estimated): 16 quarter-hours each night; 9 March has
    # no 02:xx at all. Nothing of 7 March's evening, 05:00 on, or the 10th (not asked).
    assert demand.groupby("date").size().to_dict() == {
        pd.Timestamp(nights[0]): 16,
        pd.Timestamp(nights[1]): 16,
    }
    assert demand["watts"].tolist() == pytest.approx([200.0] * 32)
    assert night_interval_demand(meter=meter, nights=[]).empty


def test_interval_frame_places_each_measured_interval_in_its_local_day(alice):
    meter = make_meter(make_account(alice, "N-2"), "E-INTERVALS-1", timezone=TIMEZONE)
    tz = zone(TIMEZONE)
    first = local_date_start(tz, date(2025, 3, 8))  # 9 March: clocks spring forward at 02:00
    starts = [first + timedelta(minutes=15 * i) for i in range(4 * (24 + 23 + 24))]
    Reading.objects.bulk_create(
        Reading(
            meter=meter,
            start=start,
            quantity=Decimal(i) / 1000,
            quality="ESTIMATED" if i == 5 else "ACTUAL",
        )
        for i, start in enumerate(starts)
    )

    frame = interval_frame(meter=meter, first_day=date(2025, 3, 8), end_day=date(2025, 3, 10))

    # 8 March: 96 slots less the estimated one; 9 March: 92, no 02:00-02:59 (slots 8-11).
    assert frame.groupby("date").size().to_dict() == {
        pd.Timestamp(2025, 3, 8): 95,
        pd.Timestamp(2025, 3, 9): 92,
    }
    ninth = frame[frame["date"] == pd.Timestamp(2025, 3, 9)]
    assert set(range(96)) - set(ninth["slot"]) == {8, 9, 10, 11}
    assert ninth["slot"].iloc[8] == 12  # 03:00, the hour after 01:45
    assert ninth["quantity"].iloc[0] == pytest.approx(0.096)
    assert interval_frame(meter=meter, first_day=date(2025, 3, 12), end_day=date(2025, 3, 13)).empty


# --- peer comparison -------------------------------------------------------------------------

PEER_START = date(2025, 3, 1)
PEER_DAYS = 61  # March and April: April is the last complete month


def daily_home(customer: Customer, number: str, per_day: float, **premise) -> Meter:
    """A home of ``customer`` with a daily meter reading ``per_day`` kWh every day."""
    account = make_account(customer, number)
    if premise:
        Premise.objects.filter(account=account).update(**premise)
    meter = make_meter(account, f"D-{number}", interval_seconds=86400)
    tz = zone(meter.timezone)
    Reading.objects.bulk_create(
        Reading(
            meter=meter,
            start=local_date_start(tz, PEER_START + timedelta(days=i)),
            quantity=Decimal(str(per_day)),
        )
        for i in range(PEER_DAYS)
    )
    rollups_rebuild(meter=Meter.objects.select_related("account").get(pk=meter.pk))
    return meter


def neighbours(utility, count: int) -> None:
    """``count`` similar homes using 10, 11, 12 ... kWh a day, each its own customer."""
    for i in range(count):
        customer = make_customer(utility, f"neighbour-{i}", meter_number=f"E-N-{i}")
        daily_home(customer, f"N{i:07d}", 10.0 + i)


def peer_insights(customer: Customer) -> list[Insight]:
    insights_generate(customer=customer, types=["PEER_COMPARISON"])
    return list(Insight.objects.filter(customer=customer, type="PEER_COMPARISON"))


def test_nine_similar_homes_are_too_few_to_compare_with(alice, acme, bob):
    daily_home(alice, "A0000001", 15.0)
    neighbours(acme, 9)
    # Homes that are not similar, or at another utility, do not count.
    other = make_customer(acme, "flat-dweller", meter_number="E-F-1")
    daily_home(other, "F0000001", 5.0, home_type="APARTMENT")
    bigger = make_customer(acme, "mansion", meter_number="E-M-1")
    daily_home(bigger, "M0000001", 50.0, floor_area_sqm=400)
    daily_home(bob, "B0000001", 12.0)
    # alice's second home is hers: not another home.
    daily_home(alice, "A0000002", 14.0)

    assert peer_insights(alice) == []


def test_ten_similar_homes_give_cohort_statistics_only(alice, acme):
    meter = daily_home(alice, "A0000001", 15.0)
    neighbours(acme, 10)

    [insight] = peer_insights(alice)

    assert insight.account_id == meter.account_id
    assert insight.meter_id is None
    assert insight.period_start == local_date_start(zone(TIMEZONE), date(2025, 4, 1))
    assert insight.period_end == local_date_start(zone(TIMEZONE), date(2025, 5, 1))
    # April: alice 15 x 30 = 450; the others 300, 330, ... 570.
    assert insight.data == {
        "percentile": 55.0,
        "cohortSize": 10,
        "yourQuantity": 450.0,
        "averageQuantity": 435.0,
        "efficientQuantity": 354.0,
        "serviceType": "ELECTRIC",
        "unitOfMeasure": "kWh",
    }
    assert "neighbour" not in insight.summary


def test_without_weather_the_forecast_is_a_calendar_model(alice):
    daily_home(alice, "A0000001", 15.0)
    insights_generate(customer=alice, types=["BILL_FORECAST"])
    forecast = Insight.objects.get(customer=alice, type="BILL_FORECAST")
    assert forecast.data["modelKind"] == "calendar"
    # A flat 15 kWh a day at 0.15 USD: the period's bill is 15 x days x 0.15.
    days = forecast.data["daysInPeriod"]
    assert Decimal(forecast.data["forecastCost"]) == pytest.approx(
        Decimal(15 * days) * Decimal("0.15"), abs=Decimal("0.5")
    )


# --- tasks and command -----------------------------------------------------------------------


def test_nightly_task_fans_out_to_every_active_customer(alice, acme, monkeypatch):
    daily_home(alice, "A0000001", 15.0)
    quiet = make_customer(acme, "quiet", meter_number="E-Q-1", active=False)
    daily_home(quiet, "Q0000001", 9.0)
    monkeypatch.setattr(tasks, "NIGHTLY_BATCH", 1)

    tasks.insights_nightly.delay()

    assert Insight.objects.filter(customer=alice, type="BILL_FORECAST").exists()
    assert not Insight.objects.filter(customer=quiet).exists()


def test_refresh_after_rollups_is_debounced(alice, monkeypatch):
    runs = []
    monkeypatch.setattr(tasks, "insights_generate", lambda **kwargs: runs.append(kwargs))
    tasks.insights_refresh_soon(customer_id=str(alice.pk))
    tasks.insights_refresh_soon(customer_id=str(alice.pk))
    assert runs == [{"customer": alice}]


def generate(*args: str) -> str:
    out = StringIO()
    call_command("generate_insights", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_generate_insights_command(alice, bob):
    daily_home(alice, "A0000001", 15.0)
    assert "for 1 customer(s)" in generate("--customer", "alice", "--type", "BILL_FORECAST")
    assert list(Insight.objects.values_list("type", flat=True)) == ["BILL_FORECAST"]
    assert "for 1 customer(s)" in generate("--utility", "globex")
    assert "for 2 customer(s)" in generate()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--customer", "nobody"], "unknown customer 'nobody'"),
        (["--utility", "nowhere"], "unknown utility 'nowhere'"),
        (["--type", "HOROSCOPE"], "unknown insight type: HOROSCOPE"),
    ],
)
def test_generate_insights_refuses_bad_input_in_one_line(alice, args, message):
    with pytest.raises(CommandError) as error:
        generate(*args)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_every_insight_type_but_budget_alerts_is_found_in_its_own_module():
    from insights.pipeline import GENERATORS
    from metadata.catalog import INSIGHT_TYPE_IDS

    assert tuple(GENERATORS) == tuple(t for t in INSIGHT_TYPE_IDS if t != "BUDGET_ALERT")
    modules = {g.drafts.__module__ for g in GENERATORS.values()}
    assert len(modules) == len(GENERATORS)
    assert [g.type for g in GENERATORS.values() if g.per_home] == ["PEER_COMPARISON"]
