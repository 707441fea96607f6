"""The synthetic meter data generator: deterministic, local-calendar correct, and faithful to the
ground truth it reports (insights are scored against that truth, so it must be right)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from usage import synthetic
from usage.synthetic import (
    DEFAULT_IMPERFECTIONS,
    HOME_TYPES,
    WEATHER_REGIONS,
    HomeProfile,
    Imperfections,
    SyntheticSeries,
    electric_intervals,
    gas_intervals,
    random_profile,
    utc_offsets,
    weather_series,
)

NEW_YORK = "America/New_York"
NONE = Imperfections(outages_per_year=0, estimated_share=0, anomalies_per_year=0)


def local_start(day: date, tz: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))


def profile_where(condition, seed: int = 0) -> HomeProfile:
    """The first random profile (from ``seed``) that satisfies ``condition``."""
    rng = np.random.default_rng(seed)
    while not condition(profile := random_profile(rng)):
        pass
    return profile


def electric_heat(profile: HomeProfile) -> bool:
    return profile.heating_fuel == "ELECTRIC"


def year_of(
    profile: HomeProfile,
    *,
    seed: int = 11,
    tz: str = NEW_YORK,
    region: str = "BOS",
    start: date = date(2025, 1, 1),
    days: int = 365,
    imperfections: Imperfections = DEFAULT_IMPERFECTIONS,
    generator=electric_intervals,
) -> SyntheticSeries:
    temperatures = weather_series(region=region, start=start, days=days, seed=seed)
    return generator(
        profile=profile,
        start_utc=local_start(start, tz),
        days=days,
        tz=tz,
        temperatures=temperatures,
        seed=seed,
        imperfections=imperfections,
    )


def local_days(series: SyntheticSeries, tz: str) -> np.ndarray:
    """Each reading's local day, counted from the series' first local date."""
    local = series.starts + utc_offsets(series.starts, tz)
    first = series.ground_truth.first_local_date.toordinal() - date(1970, 1, 1).toordinal()
    return local // 86_400 - first


def daily_totals(series: SyntheticSeries, tz: str = NEW_YORK) -> np.ndarray:
    return np.bincount(local_days(series, tz), weights=series.quantities)


# --- weather ---------------------------------------------------------------------------------


def test_weather_is_deterministic_per_seed_and_region():
    a = weather_series(region="BOS", start=date(2025, 1, 1), days=400, seed=3)
    assert np.array_equal(a, weather_series(region="BOS", start=date(2025, 1, 1), days=400, seed=3))
    assert not np.array_equal(
        a, weather_series(region="BOS", start=date(2025, 1, 1), days=400, seed=4)
    )
    assert not np.array_equal(
        a - WEATHER_REGIONS["BOS"].annual_mean_c,
        weather_series(region="NYC", start=date(2025, 1, 1), days=400, seed=3)
        - WEATHER_REGIONS["NYC"].annual_mean_c,
    )


def test_weather_has_seasons_by_hemisphere_and_persistent_anomalies():
    start = date(2025, 1, 1)
    boston = weather_series(region="BOS", start=start, days=365, seed=1)
    sydney = weather_series(region="SYD", start=start, days=365, seed=1)
    january, july = slice(0, 31), slice(181, 212)
    assert boston[july].mean() - boston[january].mean() > 15
    assert sydney[january].mean() - sydney[july].mean() > 6
    # Weather systems last days: anomalies from a 31-day running mean are autocorrelated.
    smooth = np.convolve(boston, np.ones(31) / 31, mode="valid")
    anomaly = boston[15:-15] - smooth
    assert np.corrcoef(anomaly[:-1], anomaly[1:])[0, 1] > 0.3


def test_unknown_weather_region_is_refused():
    with pytest.raises(ValueError, match="unknown weather region"):
        weather_series(region="ATLANTIS", start=date(2025, 1, 1), days=10, seed=1)


# --- local time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tz",
    [NEW_YORK, "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "UTC"],
)
def test_utc_offsets_match_zoneinfo(tz):
    zone = ZoneInfo(tz)
    epochs = np.sort(np.random.default_rng(5).integers(1_704_067_200, 1_798_761_600, 3000))
    expected = [datetime.fromtimestamp(int(t), zone).utcoffset().total_seconds() for t in epochs]
    assert np.array_equal(utc_offsets(epochs, tz), np.array(expected, dtype=np.int64))


def test_new_york_dst_days_have_92_and_100_quarter_hours():
    profile = profile_where(lambda p: True)
    series = year_of(profile, start=date(2026, 3, 1), days=250, imperfections=NONE)
    zone = ZoneInfo(NEW_YORK)
    assert np.all(np.diff(series.starts) == 900)  # contiguous in UTC
    assert datetime.fromtimestamp(int(series.starts[0]), zone) == local_start(
        date(2026, 3, 1), NEW_YORK
    )
    end = datetime.fromtimestamp(int(series.starts[-1]) + 900, zone)
    assert end == local_start(date(2026, 3, 1) + timedelta(days=250), NEW_YORK)

    dates, counts = np.unique(
        [datetime.fromtimestamp(int(t), zone).date() for t in series.starts], return_counts=True
    )
    per_day = dict(zip(dates, counts, strict=True))
    assert len(per_day) == 250
    assert per_day.pop(date(2026, 3, 8)) == 92
    assert per_day.pop(date(2026, 11, 1)) == 100
    assert set(per_day.values()) == {96}


def test_gas_days_follow_the_local_calendar_too():
    profile = profile_where(lambda p: p.has_gas)
    series = year_of(
        profile, start=date(2026, 3, 1), days=250, imperfections=NONE, generator=gas_intervals
    )
    counts = np.bincount(local_days(series, NEW_YORK))
    first = date(2026, 3, 1)
    assert counts[(date(2026, 3, 8) - first).days] == 23
    assert counts[(date(2026, 11, 1) - first).days] == 25
    assert np.count_nonzero(counts == 24) == 248


def test_half_hour_dst_of_lord_howe():
    profile = profile_where(lambda p: True)
    series = year_of(
        profile,
        tz="Australia/Lord_Howe",
        region="LHI",
        start=date(2025, 9, 1),
        days=240,
        imperfections=NONE,
    )
    counts = np.bincount(local_days(series, "Australia/Lord_Howe"))
    first = date(2025, 9, 1)
    assert counts[(date(2025, 10, 5) - first).days] == 94  # 23.5 h
    assert counts[(date(2026, 4, 5) - first).days] == 98  # 24.5 h
    assert np.count_nonzero(counts == 96) == 238


# --- determinism and sanity ------------------------------------------------------------------


@pytest.mark.parametrize("generator", [electric_intervals, gas_intervals])
def test_same_seed_same_series_and_other_seeds_differ(generator):
    profile = profile_where(lambda p: p.has_gas)
    a = year_of(profile, seed=21, days=120, generator=generator)
    b = year_of(profile, seed=21, days=120, generator=generator)
    c = year_of(profile, seed=22, days=120, generator=generator)
    for field in ("starts", "quantities", "estimated"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert a.ground_truth.anomalies == b.ground_truth.anomalies
    assert a.ground_truth.outages == b.ground_truth.outages
    assert not np.array_equal(a.quantities[:1000], c.quantities[:1000])
    assert a.ground_truth.anomalies != c.ground_truth.anomalies


@pytest.mark.parametrize(("generator", "decimals"), [(electric_intervals, 3), (gas_intervals, 4)])
def test_quantities_are_non_negative_meter_resolution_values(generator, decimals):
    for seed in range(4):
        profile = profile_where(lambda p: p.has_gas, seed=seed)
        series = year_of(profile, seed=seed, generator=generator)
        assert series.quantities.dtype == np.float64
        assert series.quantities.min() >= 0
        scaled = series.quantities * 10**decimals
        assert np.allclose(scaled, np.round(scaled))
        assert series.starts.dtype == np.int64
        assert series.estimated.dtype == bool
        assert len(series.starts) == len(series.quantities) == len(series.estimated)


def test_random_profiles_give_peers_a_spread():
    rng = np.random.default_rng(2)
    profiles = [random_profile(rng) for _ in range(400)]
    assert {p.home_type for p in profiles} == set(HOME_TYPES)
    assert {p.heating_fuel for p in profiles} == {"ELECTRIC", "GAS"}
    detached = np.array([p.floor_area_sqm for p in profiles if p.home_type == "DETACHED"])
    assert np.percentile(detached, 90) / np.percentile(detached, 10) > 1.5
    baseloads = np.array([p.baseload_watts for p in profiles])
    assert baseloads.min() >= 40 and baseloads.max() <= 900
    assert np.percentile(baseloads, 90) / np.percentile(baseloads, 10) > 1.8
    for p in profiles:
        assert 14.5 <= p.heating_balance_c <= 18 and 20.5 <= p.cooling_balance_c <= 24
        assert 1 <= p.occupants <= 5
        assert (p.gas_therms_per_hdd > 0) == p.has_gas
        assert (p.cooling_kwh_per_cdd > 0) == p.has_cooling
    # Heat pumps respond to the weather far more than a gas furnace's blower does.
    heat_pump = np.median([p.heating_kwh_per_hdd for p in profiles if not p.has_gas])
    blower = np.median([p.heating_kwh_per_hdd for p in profiles if p.has_gas])
    assert heat_pump > 5 * blower


# --- ground truth ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_baseload_is_a_low_quantile_of_night_time_demand(seed):
    profile = profile_where(lambda p: True, seed=seed)
    series = year_of(profile, seed=seed)
    local_hour = (series.starts + utc_offsets(series.starts, NEW_YORK)) % 86_400 / 3600
    night = (local_hour >= 1) & (local_hour < 5) & ~series.estimated
    demand_watts = series.quantities[night] * 4 * 1000
    estimate = np.quantile(demand_watts, 0.05)
    assert estimate == pytest.approx(series.ground_truth.baseload_watts, rel=0.15)


def test_heating_home_uses_more_on_colder_days_with_the_true_slope():
    profile = profile_where(electric_heat)
    series = year_of(profile, imperfections=NONE)
    truth = series.ground_truth
    hdd = np.maximum(0, truth.heating_balance_c - truth.temperatures)
    cdd = np.maximum(0, truth.temperatures - truth.cooling_balance_c)
    totals = daily_totals(series)
    assert np.corrcoef(hdd, totals)[0, 1] > 0.8
    design = np.column_stack([np.ones_like(hdd), hdd, cdd])
    _, heating_slope, _ = np.linalg.lstsq(design, totals, rcond=None)[0]
    assert heating_slope == pytest.approx(truth.heating_slope, rel=0.1)


def test_gas_is_heating_dominated_with_the_true_slope():
    profile = profile_where(lambda p: p.has_gas)
    series = year_of(profile, imperfections=NONE, generator=gas_intervals)
    truth = series.ground_truth
    hdd = np.maximum(0, truth.heating_balance_c - truth.temperatures)
    totals = daily_totals(series)
    assert np.corrcoef(hdd, totals)[0, 1] > 0.9
    base, slope = np.polyfit(hdd, totals, 1)[::-1]
    assert slope == pytest.approx(truth.heating_slope, rel=0.1)
    assert base == pytest.approx(profile.gas_base_therms_per_day, rel=0.2)


@pytest.mark.parametrize("seed", range(4))
def test_injected_anomalies_are_exactly_the_reported_excess(seed):
    profile = profile_where(lambda p: True, seed=seed)
    with_anomalies = year_of(profile, seed=seed, days=400)
    without = year_of(
        profile,
        seed=seed,
        days=400,
        imperfections=dataclasses.replace(DEFAULT_IMPERFECTIONS, anomalies_per_year=0),
    )
    anomalies = with_anomalies.ground_truth.anomalies
    assert len(anomalies) == round(4 * 400 / 365)
    assert np.array_equal(with_anomalies.starts, without.starts)
    assert np.array_equal(with_anomalies.estimated, without.estimated)

    difference = np.bincount(
        local_days(with_anomalies, NEW_YORK),
        weights=with_anomalies.quantities - without.quantities,
    )
    first = with_anomalies.ground_truth.first_local_date
    expected = np.zeros_like(difference)
    for anomaly in anomalies:
        expected[(anomaly.local_date - first).days] = anomaly.excess
        assert anomaly.excess > 5  # kWh: a heater left on for hours, not noise
    # Quantities are rounded to the Wh, so the day's difference carries that rounding.
    assert np.allclose(difference, expected, atol=0.05)


@pytest.mark.parametrize("seed", range(4))
def test_anomaly_days_stand_out_from_the_same_weekday(seed):
    profile = profile_where(lambda p: p.has_gas, seed=seed)
    series = year_of(profile, seed=seed, days=400)
    totals = daily_totals(series)
    first = series.ground_truth.first_local_date
    anomalous = {(a.local_date - first).days for a in series.ground_truth.anomalies}
    for anomaly in series.ground_truth.anomalies:
        day = (anomaly.local_date - first).days
        peers = [
            totals[d]
            for d in range(day - 28, day + 29, 7)
            if d != day and 0 <= d < len(totals) and d not in anomalous
        ]
        assert totals[day] - np.median(peers) > 0.5 * anomaly.excess


def test_imperfections_come_at_the_configured_rates():
    profile = profile_where(lambda p: True)
    imperfections = Imperfections(outages_per_year=6, estimated_share=0.03)
    series = year_of(profile, days=365, imperfections=imperfections)
    outages = series.ground_truth.outages
    assert len(outages) == 6
    missing = sum(end - start for start, end in outages) // 900
    assert len(series.starts) == 365 * 96 - missing
    for start, end in outages:
        assert 2 * 3600 <= end - start <= 12 * 3600
        assert not np.any((series.starts >= start) & (series.starts < end))
    assert series.estimated.sum() == round(0.03 * 365 * 96)
    # Estimates are runs of consecutive intervals, as VEE fills are, not scattered points.
    runs = np.count_nonzero(np.diff(series.estimated.astype(np.int8)) == 1)
    assert runs < series.estimated.sum() / 3


def test_perfect_data_has_no_gaps_estimates_or_anomalies():
    profile = profile_where(lambda p: True)
    series = year_of(profile, days=60, imperfections=NONE)
    assert len(series.starts) == 60 * 96
    assert not series.estimated.any()
    assert series.ground_truth.anomalies == []
    assert series.ground_truth.outages == []


def test_bad_input_is_refused():
    electric_home = profile_where(electric_heat)
    temperatures = weather_series(region="BOS", start=date(2025, 1, 1), days=30, seed=1)
    arguments = {
        "profile": electric_home,
        "start_utc": local_start(date(2025, 1, 1), NEW_YORK),
        "days": 30,
        "tz": NEW_YORK,
        "temperatures": temperatures,
        "seed": 1,
    }
    with pytest.raises(ValueError, match="timezone-aware"):
        electric_intervals(**{**arguments, "start_utc": datetime(2025, 1, 1)})
    with pytest.raises(ValueError, match="one temperature per local day"):
        electric_intervals(**{**arguments, "days": 31})
    with pytest.raises(ValueError, match="no gas service"):
        gas_intervals(**arguments)
    with pytest.raises(ValueError, match="anomaly_hours"):
        Imperfections(anomaly_hours=(8.0, 20.0))


@pytest.mark.parametrize(
    ("kind", "size_check"),
    [
        (synthetic.APPLIANCE, lambda before, after, size: after - before > 0.5 * size * 24 / 1000),
        (synthetic.OCCUPANT, lambda before, after, size: after > before),
        (synthetic.EV, lambda before, after, size: after - before > 0.5 * size),
    ],
)
def test_drifting_homes_change_for_good_go_away_and_say_so(kind, size_check):
    start, days = date(2025, 1, 1), 365
    behaviour = synthetic.Behaviour(changes_per_year=3, away_spells_per_year=3)
    for seed in range(40):  # the first seed whose home gets this kind of change
        series = electric_intervals(
            profile=random_profile(np.random.default_rng(seed)),
            start_utc=local_start(start, NEW_YORK),
            days=days,
            tz=NEW_YORK,
            temperatures=np.full(days, 18.0),  # no heating or cooling: habits only
            seed=seed,
            imperfections=NONE,
            behaviour=behaviour,
        )
        truth = series.ground_truth
        changes = [
            c for c in truth.changes if c.kind == kind and 60 < (c.local_date - start).days < 300
        ]
        if changes and truth.away_dates:
            break
    else:
        pytest.fail(f"no home with a {kind} change in 40 seeds")
    [change] = changes
    daily = daily_totals(series)
    at = (change.local_date - start).days
    away = {(d - start).days for d in truth.away_dates}
    home = [d for d in range(days) if d not in away]
    before = np.mean([daily[d] for d in home if at - 50 <= d < at])
    after = np.mean([daily[d] for d in home if at <= d < at + 50])
    assert size_check(before, after, change.size)
    assert np.mean([daily[d] for d in away]) < 0.8 * np.mean(daily[home])
    if kind == synthetic.APPLIANCE:
        assert truth.baseload_watts_on(change.local_date) == truth.baseload_watts + change.size
        assert (
            truth.baseload_watts_on(change.local_date - timedelta(days=1)) == truth.baseload_watts
        )


def test_a_steady_home_is_the_default_behaviour():
    profile = random_profile(np.random.default_rng(3))
    steady = year_of(profile, days=60)
    explicit = electric_intervals(
        profile=profile,
        start_utc=local_start(date(2025, 1, 1), NEW_YORK),
        days=60,
        tz=NEW_YORK,
        temperatures=weather_series(region="BOS", start=date(2025, 1, 1), days=60, seed=11),
        seed=11,
        behaviour=synthetic.STEADY,
    )
    np.testing.assert_array_equal(steady.quantities, explicit.quantities)
    assert steady.ground_truth.changes == () and steady.ground_truth.away_dates == ()


# --- rooftop solar ---------------------------------------------------------------------------


def solar_year(region: str, *, seed: int = 1, kilowatts_peak: float = 8.0) -> np.ndarray:
    """A year of 15-minute generation from 2025-01-01 00:00 UTC, one row per UTC day."""
    starts = int(datetime(2025, 1, 1, tzinfo=ZoneInfo("UTC")).timestamp()) + 900 * np.arange(
        365 * 96
    )
    return synthetic.solar_intervals(
        array=synthetic.SolarArray(kilowatts_peak),
        region=region,
        starts=starts,
        interval_seconds=900,
        seed=seed,
    ).reshape(365, 96)


def hours_of_output(day: np.ndarray) -> float:
    return np.count_nonzero(day) / 4


JANUARY, JULY = slice(0, 31), slice(181, 212)


def test_solar_is_zero_at_night_and_a_bell_around_solar_noon_whatever_the_clock():
    generation = solar_year("BOS")
    hour = (np.arange(96) + 0.5) / 4  # UTC, at each interval's midpoint
    # Boston's nights (UTC 01:00-08:00 is 20:00-03:00 EST) never generate.
    assert not generation[:, 4:32].any()
    # Solar noon in Boston is about 16:44 UTC all year (11:44 EST, 12:44 EDT): the sun, not
    # the clock, so the bell sits an hour later on summer clocks.
    for month in (JANUARY, JULY):
        centre = np.average(
            np.tile(hour, generation[month].shape[0]), weights=generation[month].ravel()
        )
        assert 16.4 < centre < 17.1
        peak = generation[month].sum(axis=0)
        assert peak.argmax() / 4 == pytest.approx(16.7, abs=0.75)
        assert peak[40] < peak[peak.argmax()] / 4  # 10:00 UTC is 05:00/06:00 local: dawn at most


def test_summer_days_are_longer_and_stronger_in_each_hemisphere():
    boston, sydney = solar_year("BOS"), solar_year("SYD")
    assert np.mean([hours_of_output(d) for d in boston[JULY]]) > 4 + np.mean(
        [hours_of_output(d) for d in boston[JANUARY]]
    )
    assert boston[JULY].sum(axis=1).mean() > 1.5 * boston[JANUARY].sum(axis=1).mean()
    assert sydney[JANUARY].sum(axis=1).mean() > 1.5 * sydney[JULY].sum(axis=1).mean()


def dull_share(generation: np.ndarray) -> float:
    """Share of days giving less than 40 % of the best day within a fortnight either side."""
    daily = generation.sum(axis=1)
    best = np.array([daily[max(0, d - 14) : d + 15].max() for d in range(daily.size)])
    return float(np.mean(daily < 0.4 * best))


def test_overcast_days_give_much_less_and_come_as_often_as_the_region_has_them():
    boston = solar_year("BOS")
    july = np.sort(boston[JULY].sum(axis=1))
    assert july[0] < 0.4 * july[-1]
    assert 0.1 < dull_share(boston) < 0.45
    assert dull_share(solar_year("SEA")) > dull_share(boston) > 2 * dull_share(solar_year("PHX"))


@pytest.mark.parametrize(
    ("region", "low", "high"), [("BOS", 1100, 1400), ("PHX", 1500, 1850), ("SEA", 800, 1150)]
)
def test_a_year_yields_what_arrays_there_do(region, low, high):
    """kWh per kWp and year, as PVWatts gives for a roof pitched 25° facing south."""
    assert low < solar_year(region).sum() / 8 < high


def test_solar_is_deterministic_for_a_seed_and_scales_with_the_array():
    assert np.array_equal(solar_year("BOS", seed=3), solar_year("BOS", seed=3))
    assert not np.array_equal(solar_year("BOS", seed=3), solar_year("BOS", seed=4))
    small, big = solar_year("DEN", kilowatts_peak=4), solar_year("DEN", kilowatts_peak=8)
    assert big.sum() == pytest.approx(2 * small.sum(), rel=1e-3)
    assert np.all(big >= 0) and np.array_equal(big, np.round(big, 3))
    # 15 minutes of an 8 kWp array at 0.8 never give more than 8 x 0.8 x 1.05 / 4 kWh.
    assert big.max() <= 8 * 0.8 * 1.1 / 4


def test_arrays_are_sized_to_make_about_what_the_home_uses_in_a_year():
    for seed in range(3):
        load = year_of(profile_where(lambda p: True, seed=seed), seed=seed)
        array = synthetic.sized_solar_array(np.random.default_rng(seed), load=load, region="BOS")
        generation = synthetic.solar_intervals(
            array=array, region="BOS", starts=load.starts, interval_seconds=900, seed=seed
        )
        assert 0.75 < generation.sum() / load.quantities.sum() < 1.4
        assert 2 <= array.kilowatts_peak <= 12 and 15 <= array.tilt_degrees <= 35
        assert 0.75 <= array.performance_ratio <= 0.85
    # The smallest system sold, whatever little the home uses.
    tiny = dataclasses.replace(load, quantities=load.quantities / 100)
    smallest = synthetic.sized_solar_array(np.random.default_rng(0), load=tiny, region="BOS")
    assert smallest.kilowatts_peak == 2


def test_a_meter_behind_solar_delivers_what_the_home_lacks_and_receives_its_surplus():
    profile = profile_where(lambda p: True)
    load = year_of(profile, start=date(2025, 6, 1), days=30)
    generation = synthetic.solar_intervals(
        array=synthetic.SolarArray(8.0),
        region="BOS",
        starts=load.starts,
        interval_seconds=900,
        seed=2,
    )

    delivered, received = synthetic.net_metered(load, generation)

    np.testing.assert_allclose(
        delivered.quantities - received.quantities, load.quantities - generation, atol=1e-9
    )
    assert np.all(delivered.quantities >= 0) and np.all(received.quantities >= 0)
    assert not np.any((delivered.quantities > 0) & (received.quantities > 0))
    assert received.quantities.sum() > 0 and delivered.quantities.sum() > 0
    for channel in (delivered, received):
        assert np.array_equal(channel.starts, load.starts)
        assert np.array_equal(channel.estimated, load.estimated)
        assert np.array_equal(channel.quantities, np.round(channel.quantities, 3))
    with pytest.raises(ValueError, match="one generation figure per interval"):
        synthetic.net_metered(load, generation[1:])


@pytest.mark.parametrize("tz", [NEW_YORK, "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kolkata"])
def test_utc_offsets_are_exact_at_every_transition_across_new_year(tz):
    """Offsets come from per-year transitions (cached per process): every quarter hour from
    October to April, and the seconds either side of each change, match zoneinfo."""
    zone = ZoneInfo(tz)
    quarters = np.arange(1_759_276_800, 1_777_507_200, 900, dtype=np.int64)  # 2025-10-01..04-30
    expected = np.array(
        [datetime.fromtimestamp(int(t), zone).utcoffset().total_seconds() for t in quarters]
    )
    edges = []
    for k in np.flatnonzero(expected[1:] != expected[:-1]):
        edges.extend(range(int(quarters[k]), int(quarters[k + 1]) + 1, 60))
    epochs = np.sort(np.concatenate([quarters, np.array(edges, dtype=np.int64)]))
    exact = [datetime.fromtimestamp(int(t), zone).utcoffset().total_seconds() for t in epochs]

    assert np.array_equal(utc_offsets(epochs, tz), np.array(exact, dtype=np.int64))
