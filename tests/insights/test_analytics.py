"""The models' maths on small hand-made series whose answers are known."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from insights.analytics import anomalies, baseload, metrics, peak, peers
from insights.analytics.bill import (
    RUN_RATE_WEIGHT,
    PeriodForecast,
    fit_as_of,
    forecast_period,
    recent_level,
    temperatures_for,
)
from insights.analytics.daily_model import (
    CALENDAR,
    COOLING,
    HEATING,
    HEATING_COOLING,
    INTERCEPT,
    fit_daily_model,
)
from insights.analytics.forecast import (
    MORE_DAYS,
    USAGE,
    WEATHER,
    Noise,
    change_components,
    forecast_total,
    main_driver,
)
from insights.analytics.usage_anomaly import _without_roof_hours
from insights.analytics.weather import (
    cooling_degree_days,
    heating_degree_days,
    temperature_normals,
    temperature_scenarios,
)

START = date(2025, 1, 6)  # a Monday


def dates(days: int, start: date = START) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=days, freq="D")


def jitter(days: int, scale: float = 0.05, seed: int = 0) -> np.ndarray:
    """Small noise, so fits are not exact (an exact fit has no p-values to speak of)."""
    return np.random.default_rng(seed).normal(0, scale, days)


def seasonal_temperatures(days: int) -> np.ndarray:
    """A year-like swing from -5 °C to 30 °C and back, with day-to-day wobble."""
    return 12.5 - 17.5 * np.cos(2 * np.pi * np.arange(days) / days) + jitter(days, 1.5, 1)


# --- degree days and normals -----------------------------------------------------------------


def test_degree_days():
    temperature = np.array([10.0, 16.0, 18.0, 25.0])
    assert heating_degree_days(temperature, 16).tolist() == [6.0, 0.0, 0.0, 0.0]
    assert cooling_degree_days(temperature, 22).tolist() == [0.0, 0.0, 0.0, 3.0]


def test_normals_follow_the_seasonal_cycle_of_a_long_history():
    history_dates = dates(730, date(2023, 1, 1))
    angle = 2 * np.pi * history_dates.to_julian_date().to_numpy() / 365.25
    history = pd.Series(10 + 8 * np.cos(angle) + 2 * np.sin(angle), index=history_dates)
    future = dates(30, date(2025, 1, 1))
    future_angle = 2 * np.pi * future.to_julian_date().to_numpy() / 365.25
    expected = 10 + 8 * np.cos(future_angle) + 2 * np.sin(future_angle)
    assert np.allclose(temperature_normals(history, future), expected, atol=1e-6)


def test_normals_of_a_short_history_are_the_last_fortnight():
    history = pd.Series(np.r_[np.full(20, 0.0), np.full(14, 7.0)], index=dates(34))
    assert temperature_normals(history, dates(3, START + timedelta(days=40))).tolist() == [7.0] * 3
    assert temperature_normals(history.iloc[0:0], dates(2)).isna().all()


WEATHER_YEARS = 20


def hand_made_weather(seed: int = 11) -> tuple[pd.Series, callable, callable]:
    """Twenty years of daily weather: normal 5 - 10 cos(2π doy/365.25) °C plus AR(1)
    anomalies (rho 0.7) whose standard deviation is √(10 + 6 cos): 4 °C in January, 2 °C in
    July. Returns the history and the true normal and spread as functions of the dates."""
    index = pd.date_range(date(2004, 1, 1), date(2024, 1, 1) - timedelta(days=1), freq="D")

    def angle(on: pd.DatetimeIndex) -> np.ndarray:
        return 2 * np.pi * (on.day_of_year.to_numpy() - 1) / 365.25

    def normal(on: pd.DatetimeIndex) -> np.ndarray:
        return 5 - 10 * np.cos(angle(on))

    def spread(on: pd.DatetimeIndex) -> np.ndarray:
        return np.sqrt(10 + 6 * np.cos(angle(on)))

    anomalies = ar1(np.random.default_rng(seed), len(index), 0.7, 1.0)[0] * spread(index)
    return pd.Series(normal(index) + anomalies, index=index), normal, spread


def test_weather_scenarios_keep_the_seasons_spread_and_the_weathers_persistence():
    history, normal, spread = hand_made_weather()
    january = dates(20, date(2024, 1, 1))
    scenarios = temperature_scenarios(history, january)

    assert scenarios.temperatures.shape == (1000, 20)  # 7285 runs, thinned evenly
    assert scenarios.expected == pytest.approx(normal(january), abs=0.5)
    assert scenarios.temperatures.std(axis=0) == pytest.approx(spread(january), rel=0.1)
    # Runs of real anomalies persist: a 20-day sum varies as an AR(1)'s (rho 0.7, sigma 4),
    # 4.9 times as much as 20 independent days would.
    sums = scenarios.temperatures.sum(axis=1)
    assert np.var(sums) == pytest.approx(ar1_sum_variance(20, 0.7, 4.0), rel=0.15)
    assert 0 < scenarios.normal_sd.max() < 0.5  # twenty years pin the normal down

    july = dates(20, date(2024, 7, 1))
    summer = temperature_scenarios(history, july)
    assert summer.temperatures.std(axis=0) == pytest.approx(spread(july), rel=0.1)

    # A day whose weather is known (an imported forecast) is that weather in every scenario.
    ahead = pd.concat([history, pd.Series([-3.0], index=january[:1])])
    known = temperature_scenarios(ahead, january)
    assert (known.temperatures[:, 0] == -3.0).all()
    assert known.normal_sd[0] == 0 and known.expected[0] == -3.0
    assert known.temperatures[:, 1:].std(axis=0) == pytest.approx(spread(january[1:]), rel=0.1)


def test_no_weather_scenarios_from_a_short_history():
    history, _, _ = hand_made_weather()
    assert temperature_scenarios(history.iloc[-299:], dates(20, date(2024, 1, 1))) is None


def test_the_range_under_unknown_weather_holds_80_percent_of_simulated_outcomes():
    """A heat-pump home, 5 + 2 HDD(18) kWh a day ± 1, fitted on a year; its January forecast
    made from normals and the region's weather scenarios. Every January day needs heating,
    so the outcome's variance is 2² Var(Σ T) + 20: its 80 % range must hold 80 % of Januaries
    simulated from the weather's own law."""
    history, normal, spread = hand_made_weather()
    rng = np.random.default_rng(12)
    year = history.index[-365:]
    usage = 5 + 2 * heating_degree_days(history[year].to_numpy(), 18) + rng.normal(0, 1, 365)
    model = fit_daily_model(year, usage, history[year].to_numpy())
    assert (model.kind, model.heating_slope) == (HEATING, pytest.approx(2, abs=0.05))
    january = dates(20, date(2024, 1, 1))
    scenarios = temperature_scenarios(history, january)

    total = forecast_total(model, january, None, Noise.of(model.results.resid), scenarios=scenarios)

    weather = normal(january) + spread(january) * ar1(rng, 20, 0.7, 1.0, paths=4000)
    outcomes = (5 + 2 * heating_degree_days(weather, 18) + rng.normal(0, 1, weather.shape)).sum(
        axis=1
    )
    held = np.mean((total.low <= outcomes) & (outcomes <= total.high))
    assert held == pytest.approx(0.8, abs=0.04)
    # The point is the middle outcome (every January day heats: the model under the normals).
    assert np.mean(outcomes < total.point) == pytest.approx(0.5, abs=0.1)
    assert total.point == pytest.approx(model.predict(january, scenarios.expected).sum(), rel=0.01)
    # Known weather, by contrast, leaves only the model's own error.
    known = forecast_total(model, january, weather[0], Noise.of(model.results.resid))
    assert known.high - known.low < (total.high - total.low) / 3


def test_where_the_days_to_come_straddle_a_balance_point_the_point_and_range_lean_up():
    """Early summer, a home that heats below 16 °C, normals just under it: a cold spell adds
    heating that a warm one does not take away, so outcomes reach further above the usage under
    normal weather than below it, and most lie above it. The point is the middle outcome
    (bill-forecast/2.3's point was the usage under the normals, under most outcomes)."""
    history, normal, spread = hand_made_weather()
    year = history.index[-365:]
    rng = np.random.default_rng(13)
    usage = 5 + 2 * heating_degree_days(history[year].to_numpy(), 16) + rng.normal(0, 1, 365)
    model = fit_daily_model(year, usage, history[year].to_numpy())
    june = dates(20, date(2024, 6, 1))
    scenarios = temperature_scenarios(history, june)

    total = forecast_total(model, june, None, Noise.of(model.results.resid), scenarios=scenarios)

    under_normals = model.predict(june, scenarios.expected).sum()
    assert total.high - under_normals > 1.5 * (under_normals - total.low)
    weather = normal(june) + spread(june) * ar1(rng, 20, 0.7, 1.0, paths=4000)
    outcomes = (5 + 2 * heating_degree_days(weather, 16) + rng.normal(0, 1, weather.shape)).sum(
        axis=1
    )
    assert np.mean(outcomes < under_normals) < 0.3
    assert np.mean(outcomes < total.point) == pytest.approx(0.5, abs=0.1)
    assert total.low < total.point < total.high


# --- the daily model -------------------------------------------------------------------------


def test_heating_model_recovers_balance_point_slope_and_weekend():
    days = 200
    index = dates(days)
    temperature = seasonal_temperatures(days)
    weekend = (index.day_of_week >= 5).astype(float)
    usage = 10 + 2 * heating_degree_days(temperature, 16) + 3 * weekend + jitter(days)

    model = fit_daily_model(index, usage, temperature)

    assert model.kind == HEATING
    assert model.heating_balance_c == 16
    assert model.heating_slope == pytest.approx(2, abs=0.02)
    saturday = pd.DatetimeIndex([pd.Timestamp("2025-06-07")])
    monday = pd.DatetimeIndex([pd.Timestamp("2025-06-09")])
    assert model.predict(saturday, np.array([20.0]))[0] == pytest.approx(13, abs=0.05)
    assert model.predict(monday, np.array([6.0]))[0] == pytest.approx(30, abs=0.1)


def test_heating_and_cooling_model_finds_both_balance_points():
    days = 300
    temperature = seasonal_temperatures(days)
    usage = (
        5
        + 1.5 * heating_degree_days(temperature, 15)
        + 2 * cooling_degree_days(temperature, 22)
        + jitter(days)
    )
    model = fit_daily_model(dates(days), usage, temperature)
    assert (model.kind, model.heating_balance_c, model.cooling_balance_c) == (
        HEATING_COOLING,
        15,
        22,
    )
    assert model.cooling_slope == pytest.approx(2, abs=0.02)


def test_cooling_only_and_intercept_only_homes():
    days = 200
    temperature = seasonal_temperatures(days)
    cooling = 4 + 1.2 * cooling_degree_days(temperature, 24) + jitter(days)
    assert fit_daily_model(dates(days), cooling, temperature).kind == COOLING
    flat = 7 + jitter(days, 0.5)
    model = fit_daily_model(dates(days), flat, temperature)
    assert model.kind == INTERCEPT
    assert not model.uses_weather


def test_without_weather_the_model_is_calendar_only():
    days = 56
    index = dates(days)
    usage = np.where(index.day_of_week >= 5, 20.0, 12.0) + jitter(days)
    model = fit_daily_model(index, usage, None)
    assert model.kind == CALENDAR
    assert model.predict(dates(7)) == pytest.approx([12] * 5 + [20] * 2, abs=0.05)


def test_too_little_history_gives_no_model():
    assert fit_daily_model(dates(27), np.ones(27), None) is None


# --- forecasts and their intervals -----------------------------------------------------------


def ar1(rng: np.random.Generator, days: int, rho: float, sd: float, paths: int = 1) -> np.ndarray:
    """``paths`` x ``days`` stationary AR(1) series of lag-1 autocorrelation ``rho`` and
    marginal standard deviation ``sd`` (the first day drawn from the stationary law)."""
    shocks = rng.standard_normal((paths, days))
    series = np.empty((paths, days))
    series[:, 0] = shocks[:, 0]
    for day in range(1, days):
        series[:, day] = rho * series[:, day - 1] + np.sqrt(1 - rho**2) * shocks[:, day]
    return sd * series


def ar1_sum_variance(days: int, rho: float, sd: float) -> float:
    """Var(Σ e) of ``days`` stationary AR(1) errors, in closed form:
    sd² [n (1 + rho) / (1 - rho) - 2 rho (1 - rho^n) / (1 - rho)²]."""
    return sd**2 * (days * (1 + rho) / (1 - rho) - 2 * rho * (1 - rho**days) / (1 - rho) ** 2)


def test_variance_of_a_sum_of_ar1_errors():
    assert Noise(2.0, 0.0).variance_of_sum(10) == pytest.approx(40)
    # n = 2, rho = 0.5: sigma^2 (2 + 2 * 1 * 0.5) = 3 sigma^2
    assert Noise(1.0, 0.5).variance_of_sum(2) == pytest.approx(3)
    # n = 20, rho = 0.6, sigma = 2: 4 (20 x 4 - 2 x 0.6 x (1 - 0.6^20) / 0.16) = 290.0
    assert Noise(2.0, 0.6).variance_of_sum(20) == pytest.approx(290.0, abs=0.01)
    assert Noise(2.0, 0.6).variance_of_sum(20) == pytest.approx(ar1_sum_variance(20, 0.6, 2.0))
    # ... which is what 20-day sums of simulated AR(1) errors scatter by, 3.6 times n sigma^2.
    sums = ar1(np.random.default_rng(5), 20, 0.6, 2.0, paths=20_000).sum(axis=1)
    assert np.var(sums) == pytest.approx(290.0, rel=0.05)


def test_noise_recovers_the_spread_and_persistence_of_ar1_residuals():
    noise = Noise.of(ar1(np.random.default_rng(6), 20_000, 0.6, 2.0)[0])
    assert noise.sd == pytest.approx(2.0, rel=0.03)
    assert noise.rho == pytest.approx(0.6, abs=0.02)
    # Errors that alternate (negative autocorrelation) are taken as independent.
    alternating = ar1(np.random.default_rng(7), 2000, 0.6, 1.0)[0] * (-1) ** np.arange(2000)
    assert Noise.of(alternating).rho == 0


def test_the_range_of_a_sum_of_ar1_days_holds_80_percent_of_outcomes():
    """A calendar model of 10 + AR(1) errors (rho 0.6, sigma 1): its 80 % range for the next
    20 days holds the sum of 80 % of simulated futures; treating the days as independent
    would hold only half of them (the sum's variance is 3.6 times n sigma^2)."""
    rng = np.random.default_rng(8)
    history = 730
    model = fit_daily_model(dates(history), 10 + ar1(rng, history, 0.6, 1.0)[0], None)
    future = dates(20, START + timedelta(days=history))
    noise = Noise.of(model.results.resid)
    outcomes = 200 + ar1(rng, 20, 0.6, 1.0, paths=4000).sum(axis=1)

    def held(total) -> float:
        return float(np.mean((total.low <= outcomes) & (outcomes <= total.high)))

    assert held(forecast_total(model, future, None, noise)) == pytest.approx(0.8, abs=0.03)
    independent = forecast_total(model, future, None, Noise(noise.sd, 0.0))
    assert held(independent) == pytest.approx(0.5, abs=0.05)


def test_forecast_total_is_the_sum_of_days_with_an_interval_around_it():
    days = 60
    model = fit_daily_model(dates(days), 10 + jitter(days, 0.5), None)
    future = dates(20, START + timedelta(days=days))
    total = forecast_total(model, future, None, Noise.of(model.results.resid))
    assert total.point == pytest.approx(200, abs=2)
    assert total.low < total.point < total.high
    assert total.high - total.low == pytest.approx(2 * 1.29 * 0.5 * np.sqrt(20), rel=0.35)


def test_period_forecast_counts_metered_days_fills_gaps_and_forecasts_the_rest():
    days = 90
    index = dates(days)
    daily = pd.DataFrame(
        {"quantity": 10 + jitter(days, 0.01), "coverage": 1.0, "temperature": np.nan},
        index=index,
    )
    first = (START + timedelta(days=70)).replace()
    as_of = first + timedelta(days=9)
    daily.loc[pd.Timestamp(first), ["quantity", "coverage"]] = [5.0, 0.5]

    forecast = forecast_period(
        daily=daily,
        weather=pd.Series(dtype=float),
        first=first,
        end=first + timedelta(30),
        as_of=as_of,
    )

    assert forecast.model.kind == CALENDAR
    assert forecast.elapsed_days == 10
    assert forecast.used_to_date == pytest.approx(95, abs=0.1)
    # 95 metered + 5 for the half day unread + 20 days x 10 expected
    assert forecast.quantity == pytest.approx(300, abs=0.5)
    assert forecast.low < forecast.quantity < forecast.high
    assert len(forecast.remaining) == 20


def test_the_remaining_days_blend_the_model_with_the_period_s_run_rate():
    """Ten read days 20 % above the home's usual 10 a day: the days left are 70 % the model's
    (which follows the level only partly) and 30 % the run rate of the read ones, the range
    moving with the point and keeping its width."""
    index = dates(100)
    daily = pd.DataFrame(
        {"quantity": 10 + jitter(100, 0.01), "coverage": 1.0, "temperature": np.nan},
        index=index,
    )
    first = START + timedelta(days=90)
    daily.loc[pd.Timestamp(first) :, "quantity"] = 12.0
    period = {
        "daily": daily,
        "weather": pd.Series(dtype=float),
        "first": first,
        "end": first + timedelta(30),
        "as_of": first + timedelta(days=9),
    }

    model_only = forecast_period(**period, run_rate_weight=0.0)
    blended = forecast_period(**period)

    base = 120.0  # ten metered days at 12
    run_rate = base / 10 * 20
    assert RUN_RATE_WEIGHT == 0.2
    assert blended.quantity - base == pytest.approx(
        0.8 * (model_only.quantity - base) + 0.2 * run_rate
    )
    assert model_only.quantity < blended.quantity < base + run_rate
    assert blended.high - blended.low == pytest.approx(model_only.high - model_only.low)


def _heating_home(days: int, step_day: int, step: float) -> pd.DataFrame:
    """10 kWh a day + 0.8 kWh per heating degree day (balance 15 °C), and ``step`` more a day
    from ``step_day`` on (an electric car, an extra occupant). A 365-day seasonal cycle from
    the depth of winter (-5 °C) to high summer (30 °C) with day-to-day wobble."""
    temperature = 12.5 - 17.5 * np.cos(2 * np.pi * np.arange(days) / 365) + jitter(days, 2.0, 1)
    quantity = 10 + 0.8 * np.maximum(0, 15 - temperature) + jitter(days, 0.5, 2)
    quantity[step_day:] += step
    return pd.DataFrame(
        {"quantity": quantity, "coverage": 1.0, "temperature": temperature}, index=dates(days)
    )


def _step_forecast(
    daily: pd.DataFrame, as_of: date, **options
) -> tuple[PeriodForecast, np.ndarray]:
    """The forecast of the period read for the ten days up to ``as_of``, and what its days
    after ``as_of`` would use without the step, the weather of those days being unknown
    (normals stand in, for the forecast and for the truth alike)."""
    weather = daily["temperature"].where(daily.index <= pd.Timestamp(as_of))
    forecast = forecast_period(
        daily=daily.loc[: pd.Timestamp(as_of)],
        weather=weather,
        first=as_of - timedelta(days=9),
        end=as_of + timedelta(days=21),
        as_of=as_of,
        **options,
    )
    temperature = temperatures_for(weather, forecast.remaining.index)[0]
    return forecast, 10 + 0.8 * np.maximum(0, 15 - temperature)


def _followed_share(daily: pd.DataFrame, as_of: date, step: float, **options) -> float:
    """The share of the step the model's days after ``as_of`` carry."""
    forecast, without_step = _step_forecast(daily, as_of, **options)
    assert forecast.model.kind == HEATING  # still a weather model
    assert 0.6 < forecast.model.heating_slope < 1.2  # (true 0.8: a winter step leaks a little)
    return float(np.mean(forecast.remaining.to_numpy() - without_step) / step)


def _shown_share(daily: pd.DataFrame, as_of: date, step: float) -> float:
    """The share of the step the forecast as shown carries over the days after ``as_of``:
    the model blended with the run rate of the period's ten read days."""
    forecast, without_step = _step_forecast(daily, as_of)
    rest = forecast.quantity - forecast.used_to_date - float(np.sum(without_step))
    return rest / (step * len(without_step))


def test_the_forecast_follows_a_step_in_level_within_two_weeks_and_still_uses_weather():
    """The model carries 62 % of a step in two weeks and 87 % in four; the forecast shown,
    blended with the run rate of read days that are all after the step, 70 % and 94 %."""
    step_day, step = 360, 6.0  # in the depth of the second winter
    daily = _heating_home(400, step_day, step)
    two_weeks = daily.index[step_day + 13].date()  # the step's fourteenth day
    four_weeks = daily.index[step_day + 27].date()

    assert _followed_share(daily, two_weeks, step) >= 0.6
    assert _shown_share(daily, two_weeks, step) >= 0.69
    assert _followed_share(daily, four_weeks, step) >= 0.85
    assert _shown_share(daily, four_weeks, step) >= 0.93
    # A year of equal weights and no level (the model before) carries a fraction of it.
    equal = fit_as_of(daily, two_weeks, block_days=None)
    assert _followed_share(daily, two_weeks, step, model=equal, smoothing=0.0) < 0.3


def test_block_intercepts_keep_a_drifting_home_s_drift_out_of_its_heating_slope():
    """Use that grows all year (0.03 kWh a day more each day) while winter turns to autumn:
    one intercept for the year takes the growth for less heating (a slope far under the
    true 0.8); an intercept per four weeks learns the slope from each block's weather, and
    stands at the last four weeks' level."""
    days = 300
    temperature = seasonal_temperatures(365)[:days]
    growth = 0.03 * np.arange(days)
    quantity = 10 + 0.8 * np.maximum(0, 15 - temperature) + growth + jitter(days, 0.5, 2)
    daily = pd.DataFrame(
        {"quantity": quantity, "coverage": 1.0, "temperature": temperature}, index=dates(days)
    )
    as_of = daily.index[-1].date()

    one = fit_as_of(daily, as_of, block_days=None)
    blocks = fit_as_of(daily, as_of)

    assert one.heating_slope < 0.6
    assert blocks.kind == HEATING
    assert blocks.heating_slope == pytest.approx(0.8, abs=0.1)
    assert blocks.earlier_blocks == days // 28 - 1
    last_four_weeks = daily.index[-28:]
    expected = 10 + 0.8 * np.maximum(0, 15 - temperature[-28:]) + growth[-28:]
    predicted = blocks.predict(last_four_weeks, temperature[-28:])
    assert np.mean(predicted - expected) == pytest.approx(0.0, abs=0.2)


def test_each_earlier_block_has_its_own_intercept_and_predictions_are_at_the_latest():
    days = 84
    quantity = np.r_[np.full(28, 10.0), np.full(28, 12.0), np.full(28, 15.0)] + jitter(days)
    blocks = np.repeat([2, 1, 0], 28)

    model = fit_daily_model(dates(days), quantity, None, blocks=blocks)

    assert model.kind == CALENDAR
    assert model.earlier_blocks == 2
    future = dates(14, START + timedelta(days=days))
    assert model.predict(future) == pytest.approx(np.full(14, 15.0), abs=0.1)
    # without blocks, the year's mean
    assert fit_daily_model(dates(days), quantity, None).predict(future).mean() == pytest.approx(
        37 / 3, abs=0.1
    )


def test_the_level_is_the_exponentially_smoothed_residual():
    days = 120
    daily = pd.DataFrame(
        {"quantity": 10 + jitter(days, 0.01), "coverage": 1.0, "temperature": np.nan},
        index=dates(days),
    )
    model = fit_daily_model(daily.index[:100], daily["quantity"].to_numpy()[:100], None)
    daily.iloc[100:, 0] += 4.0  # 20 days 4 kWh higher
    level = recent_level(model, daily, smoothing=0.1)
    assert level.value == pytest.approx(4.0 * (1 - 0.9**20), abs=0.05)
    assert level.before.iloc[100] == pytest.approx(0.0, abs=0.05)  # the step's first day
    assert level.errors[100] == pytest.approx(4.0, abs=0.05)
    daily.iloc[100:105, 1] = 0.5  # partly read days do not move it
    assert recent_level(model, daily, smoothing=0.1).value == pytest.approx(
        4.0 * (1 - 0.9**15), abs=0.05
    )


def test_change_components_add_up_and_name_the_driver():
    longer = change_components(
        current_quantity=310,
        current_days=31,
        previous_quantity=280,
        previous_days=28,
        current_expected_daily=10,
        previous_expected_daily=10,
    )
    assert longer == {WEATHER: 0, MORE_DAYS: pytest.approx(30), USAGE: pytest.approx(0)}
    assert main_driver(longer) == MORE_DAYS

    colder = change_components(
        current_quantity=450,
        current_days=30,
        previous_quantity=300,
        previous_days=30,
        current_expected_daily=14,
        previous_expected_daily=10,
    )
    assert colder == {WEATHER: 120, MORE_DAYS: 0, USAGE: 30}
    assert sum(colder.values()) == 150
    assert main_driver(colder) == WEATHER

    habits = change_components(
        current_quantity=400,
        current_days=30,
        previous_quantity=300,
        previous_days=30,
        current_expected_daily=10,
        previous_expected_daily=10,
    )
    assert main_driver(habits) == USAGE


# --- anomalies -------------------------------------------------------------------------------


def test_only_the_day_far_above_expectation_is_anomalous():
    index = dates(90)
    expected = pd.Series(20.0, index=index)
    actual = expected + np.tile([-1.0, 0.0, 1.0], 30)
    actual.iloc[45] = 30.0  # +10 where the scatter is +-1
    actual.iloc[60] = 22.5  # high-ish, but within the usual scatter's tail
    scores = anomalies.daily_scores(actual, expected)
    assert list(scores.index[scores["anomalous"]]) == [index[45]]
    assert scores["z"].iloc[45] > anomalies.DAY_THRESHOLD


def test_an_anomaly_must_also_be_a_sizeable_share_of_the_day():
    index = dates(90)
    expected = pd.Series(100.0, index=index)
    actual = expected + np.tile([-0.1, 0.0, 0.1], 30)
    actual.iloc[45] = 105.0  # huge z, but only 5 % over
    assert not anomalies.daily_scores(actual, expected)["anomalous"].any()


#: A scan of the last 30 of 58 days of 15-minute intervals (4 an hour).
SCAN_DAYS = 30


def _home(
    days: int = 58, seed: int = 0, interval_shape: float = 16.0
) -> tuple[pd.DataFrame, pd.Series]:
    """A home's 15-minute intervals and each day's expected total: 0.1 kWh an interval always
    on, an evening of 0.4 kWh intervals from 17:00 to 22:00, gamma noise on every interval
    (of shape ``interval_shape``: 16 scatters an interval by a quarter, 4 by half) and on
    each day's evening, and a 1 kWh kettle or dryer burst in a random interval of each
    evening."""
    rng = np.random.default_rng(seed)
    index = dates(days)
    slot = np.arange(96)
    evening = (slot >= 68) & (slot < 88)
    usual = np.where(evening, 0.4, 0.1)
    swing = np.where(evening, rng.gamma(50.0, 1 / 50, (days, 1)), 1.0)
    grid = usual * swing * rng.gamma(interval_shape, 1 / interval_shape, (days, 96))
    grid[np.arange(days), rng.integers(68, 88, days)] += 1.0
    frame = pd.DataFrame(
        {
            "date": np.repeat(index, 96),
            "slot": np.tile(slot, days),
            "quantity": grid.ravel(),
        }
    )
    return frame, pd.Series(usual.sum() + 1.0, index=index)


def _runs(frame: pd.DataFrame, expected: pd.Series, usual: pd.Series | None = None):
    index = expected.index
    usual = pd.Series(True, index=index) if usual is None else usual
    return anomalies.run_scores(frame, expected, usual, index[-SCAN_DAYS], 4)


def _add(frame: pd.DataFrame, day: pd.Timestamp, first_slot: int, slots: int, kwh: float):
    inside = (frame["date"] == day) & frame["slot"].between(first_slot, first_slot + slots - 1)
    frame.loc[inside, "quantity"] += kwh


def test_ordinary_days_have_no_unusual_run():
    frame, expected = _home()
    scores = _runs(frame, expected)
    assert list(scores.index) == list(expected.index[-SCAN_DAYS:])
    assert not anomalies.unusual_runs(scores).any()


def test_an_extra_load_for_hours_is_an_unusual_run_with_its_hours():
    frame, expected = _home()
    heater = expected.index[-10]
    _add(frame, heater, 9 * 4, 4 * 4, 0.75)  # 3 kW from 09:00 to 13:00: +12 kWh
    scores = _runs(frame, expected)
    unusual = scores[anomalies.unusual_runs(scores)]
    assert list(unusual.index) == [heater]
    assert (unusual["run_start"].iloc[0], unusual["run_end"].iloc[0]) == (9, 13)
    assert unusual["run_excess"].iloc[0] == pytest.approx(12.0, abs=1.0)


def test_a_small_load_for_hours_is_an_unusual_run():
    frame, expected = _home()
    heater = expected.index[-10]
    _add(frame, heater, 6 * 4, 5 * 4, 0.25)  # 1 kW from 06:00 to 11:00: +5 kWh on a 17 kWh day
    scores = _runs(frame, expected)
    assert list(scores.index[anomalies.unusual_runs(scores)]) == [heater]


def test_an_appliance_burst_is_not_a_run():
    frame, expected = _home()
    dryer = expected.index[-10]
    _add(frame, dryer, 3 * 4, 3, 1.1)  # a 4.4 kW dryer for 45 minutes at 3 am
    assert not anomalies.unusual_runs(_runs(frame, expected)).any()


def test_days_away_are_no_reference_for_days_at_home():
    frame, expected = _home()
    away = expected.index[-40:-30]
    frame.loc[frame["date"].isin(away), "quantity"] = 0.1  # only the always-on power
    usual = pd.Series(~expected.index.isin(away), index=expected.index)
    scores = _runs(frame, expected, usual)
    assert not anomalies.unusual_runs(scores).any()


def test_a_day_far_under_its_expectation_is_no_ordinary_day_even_in_a_wide_scatter():
    index = dates(90)
    expected = pd.Series(20.0, index=index)
    actual = expected + np.tile([-6.0, 0.0, 6.0], 30)  # a home whose days swing by +-30 %
    actual.iloc[45] = 10.0  # away: half its expectation, only ~1.1 robust scales under it
    actual.iloc[46] = 13.0  # an ordinary low day of this home (65 %)
    scores = anomalies.daily_scores(actual, expected)
    assert scores["z"].iloc[45] > -anomalies.DAY_THRESHOLD
    ordinary = anomalies.ordinary_days(scores)
    assert not ordinary.iloc[45]
    assert ordinary.drop(index[45]).all()


def test_an_interval_s_spread_is_pooled_with_its_neighbours():
    """A heat pump's compressor makes an interval read either 0 or 0.25 kWh: eight reference
    days may agree on one interval by chance (its own MAD is 0) while its neighbours show the
    home's real scatter."""
    deviation = np.array([[0.0, 0.2, 0.0, 0.2, 0.2], [0.2, 0.0, 0.0, 0.2, 0.0]])
    # Column 2: its own deviations are all 0; with one neighbour either side, the median of
    # 0.2, 0.0, 0.0, 0.0, 0.2, 0.2 is 0.1.
    spread = anomalies._pooled_spread(deviation, 1)
    assert spread[2] == pytest.approx(0.1 * 1.482602218505602)
    assert anomalies._pooled_spread(deviation, 0)[2] == 0.0


def test_an_interval_is_expected_from_days_of_like_expected_totals():
    """Cold days (every other one here) run a heat pump all day: a cold day is compared with
    other cold days, so its heating is no run, but a heater on a mild day is."""
    frame, expected = _home()
    cold = expected.index[::2]
    frame.loc[frame["date"].isin(cold), "quantity"] += 0.5
    expected[cold] += 48.0
    heater = expected.index[-9]
    assert heater not in cold
    _add(frame, heater, 8 * 4, 6 * 4, 0.5)  # 2 kW from 08:00 to 14:00
    scores = _runs(frame, expected)
    assert list(scores.index[anomalies.unusual_runs(scores)]) == [heater]


def test_a_four_hour_afternoon_load_of_1_5_kw_is_a_saturated_run():
    """A home whose waking hours (07:00-23:00) swing by about 20 % from day to day, so every
    day's best run of four hours scatters widely. 1.5 kW from 14:00 to 18:00 (+6 kWh) is far
    above every interval's spread, but capped, its run scores at most 3·√16 = 12: not over
    the threshold against that scatter. Nearly every one of its intervals at the cap, it is
    a saturated run, and no other day's is."""
    frame, expected = _home(seed=1)
    swing = np.random.default_rng(11).gamma(20.0, 1 / 20, len(expected))
    waking = frame["slot"].between(7 * 4, 23 * 4 - 1)
    frame["quantity"] *= np.where(waking, swing[expected.index.get_indexer(frame["date"])], 1.0)
    heater = expected.index[-12]
    _add(frame, heater, 14 * 4, 4 * 4, 0.375)
    scores = _runs(frame, expected)
    assert scores.at[heater, "run_z"] < anomalies.RUN_THRESHOLD
    assert list(scores.index[anomalies.unusual_runs(scores)]) == [heater]
    assert scores["saturated"].tolist() == [day == heater for day in scores.index]


def test_an_hourly_meter_has_no_saturated_run():
    """Four hours at the cap are 16 intervals of a 15-minute meter but 4 of an hourly one:
    too few to tell a load from a busy afternoon, so only the standardised score counts."""
    frame, expected = _home()
    heater = expected.index[-12]
    _add(frame, heater, 14 * 4, 4 * 4, 0.375)
    hourly = frame.assign(slot=frame["slot"] // 4).groupby(["date", "slot"], as_index=False).sum()
    scores = anomalies.run_scores(
        hourly, expected, pd.Series(True, index=expected.index), expected.index[-SCAN_DAYS], 1
    )
    assert not scores["saturated"].any()


def test_a_day_a_little_above_its_references_all_day_is_no_saturated_run():
    """A day 10 % above its references in every interval lifts them all, but nowhere near
    the cap."""
    frame, expected = _home()
    busy = expected.index[-12]
    frame.loc[frame["date"] == busy, "quantity"] *= 1.1
    assert not _runs(frame, expected)["saturated"].any()


def test_a_1_kw_load_in_the_busy_evening_lifts_the_home_s_floor():
    """1 kW through the whole evening, 17:00 to 22:00 (+5 kWh), in a home whose evening
    intervals scatter by half: its intervals alone are no unusual run against every day's
    busy evening, but every hour of it reads at least the heater, so its floor is lifted; no
    ordinary evening's is."""
    frame, expected = _home(seed=4, interval_shape=4.0)
    heater = expected.index[-10]
    _add(frame, heater, 17 * 4, 5 * 4, 0.25)
    scores = _runs(frame, expected)
    assert not anomalies.unusual_runs(scores)[heater]
    assert scores["lifted"].tolist() == [day == heater for day in scores.index]


def test_a_busy_evening_does_not_lift_the_home_s_floor():
    """An evening half again as busy as usual (more cooking, more screens) and an extra
    dryer burst lift its intervals, not its floor."""
    frame, expected = _home(seed=4, interval_shape=4.0)
    busy = expected.index[-10]
    evening = (frame["date"] == busy) & frame["slot"].between(17 * 4, 22 * 4 - 1)
    frame.loc[evening, "quantity"] *= 1.5
    _add(frame, busy, 20 * 4, 3, 1.1)
    assert not _runs(frame, expected)["lifted"].any()


def test_a_lifted_floor_counts_on_a_day_a_fifth_above_its_expectation():
    """A floor lifted for hours on a day no more than expected, or a little more, is use
    moved (the same heating earlier, say), not added."""
    index = dates(4)
    runs = pd.DataFrame({"lifted": [True, True, True, False]}, index=index)
    days = pd.DataFrame({"actual": [24.0, 23.0, 20.0, 30.0], "expected": 20.0}, index=index)
    assert anomalies.lifted_days(runs, days).tolist() == [True, False, False, False]


def test_an_hourly_meter_has_no_lifted_floor():
    """An hourly meter's hour is one interval: it has no floor to take below it."""
    frame, expected = _home(seed=4, interval_shape=4.0)
    _add(frame, expected.index[-10], 17 * 4, 5 * 4, 0.25)
    hourly = frame.assign(slot=frame["slot"] // 4).groupby(["date", "slot"], as_index=False).sum()
    scores = anomalies.run_scores(
        hourly, expected, pd.Series(True, index=expected.index), expected.index[-SCAN_DAYS], 1
    )
    assert not scores["lifted"].any()


def test_an_hour_s_floor_is_its_least_interval():
    grid = np.array([[1.0, 3.0, 2.0, 5.0, np.nan, 4.0]])
    assert anomalies._hourly_floor(grid, 2).tolist() == [[1.0, 2.0, 2.0, 5.0, 4.0, 4.0]]
    assert anomalies._hourly_floor(grid, 4).tolist() == [[1.0, 1.0, 2.0, 2.0, 4.0, 4.0]]


def test_runs_need_enough_days_with_their_intervals_read():
    frame, expected = _home(days=anomalies.MIN_SCORED_DAYS - 1)
    scores = anomalies.run_scores(
        frame, expected, pd.Series(True, index=expected.index), expected.index[0], 4
    )
    assert scores.empty


# --- baseload --------------------------------------------------------------------------------


def _nights(values_by_night: list[list[float]], last: date) -> pd.DataFrame:
    rows = [
        (pd.Timestamp(last - timedelta(days=len(values_by_night) - 1 - i)), watts)
        for i, night in enumerate(values_by_night)
        for watts in night
    ]
    return pd.DataFrame(rows, columns=["date", "watts"])


def test_baseload_is_a_low_quantile_of_night_demand():
    last = date(2025, 6, 30)
    demand = _nights([[100.0 + h for h in range(10)] for _ in range(30)], last)
    # 10th percentile of 100..109 (numpy's linear interpolation): 100.9
    assert baseload.baseload_watts(demand, last_day=last, degree_days=None) == pytest.approx(100.9)


def test_nights_that_needed_heating_are_left_out():
    last = date(2025, 1, 31)
    # The last 35 nights cold (heat pump on: 1500 W), the 40 before them mild.
    nights = [[120.0] * 5] * 40 + [[1500.0] * 5] * 35
    demand = _nights(nights, last)
    need = pd.Series(
        [0.0] * 40 + [12.0] * 35, index=pd.DatetimeIndex(sorted(demand["date"].unique()))
    )
    assert baseload.baseload_watts(demand, last_day=last, degree_days=need) == 120.0
    # Without weather there is no telling: the recent (cold) nights are used.
    assert baseload.baseload_watts(demand, last_day=last, degree_days=None) == 1500.0


def test_too_few_nights_give_no_baseload():
    last = date(2025, 6, 30)
    demand = _nights([[100.0]] * (baseload.MIN_NIGHTS - 1), last)
    assert baseload.baseload_watts(demand, last_day=last, degree_days=None) is None


#: A heat pump's compressor: 3 kW for 10 minutes, 0.5 kWh a cycle.
COMPRESSOR_WATTS = 3000.0
BASE_WATTS = 150.0


def _cycling_night(cycles: list[int]) -> list[float]:
    """A night's 15-minute demand (W): the baseload, plus the compressor's cycles in each
    interval (a 10-minute cycle at 3 kW averages 2 kW over a quarter-hour)."""
    return [BASE_WATTS + n * COMPRESSOR_WATTS * 10 / 15 for n in cycles]


def _hourly(demand: pd.DataFrame) -> pd.DataFrame:
    """The same nights as hourly averages (4 quarter-hours an hour): what HOUR rollups give."""
    hours = demand.groupby([demand["date"], np.arange(len(demand)) // 4])["watts"].mean()
    return hours.reset_index(level=0).reset_index(drop=True)


def test_compressor_off_cycles_between_its_cycles_reveal_the_baseload():
    """A cold spell from the start of history (no mild night at all): every hour of every
    night holds compressor cycles, so hourly averages sit ~1 kW above the baseload, but one
    quarter-hour in three is idle and the low quantile of the intervals finds 150 W."""
    last = date(2025, 1, 20)
    nights = [_cycling_night([1, 1, 0] * 6 + [1, 1]) for _ in range(20)]
    demand = _nights(nights, last)
    need = pd.Series(np.linspace(8, 20, 20), index=pd.DatetimeIndex(demand["date"].unique()))

    assert baseload.baseload_watts(demand, last_day=last, degree_days=need) == BASE_WATTS
    hourly = baseload.baseload_watts(_hourly(demand), last_day=last, degree_days=need)
    assert hourly >= BASE_WATTS + 1000  # what always-on/1.0 reported


def test_mildest_nights_use_the_lower_quantile_and_catch_rare_off_cycles():
    """Deep winter: the compressor runs in all but 8 % of the mildest nights' intervals (and
    twice an interval on the colder nights). The 10 % quantile would land on a cycle; the
    mildest nights are read at the 5 % quantile, which is still idle time."""
    last = date(2025, 1, 31)
    mildest = [
        _cycling_night([0, 0] + [1] * 18) if i < 8 else _cycling_night([1] * 20) for i in range(10)
    ]
    colder = [_cycling_night([2] * 20) for _ in range(20)]
    demand = _nights(colder[:10] + mildest + colder[10:], last)
    dates = pd.DatetimeIndex(demand["date"].unique())
    need = pd.Series([25.0] * 10 + [12.0] * 10 + [25.0] * 10, index=dates)

    choice = baseload.choose_nights(dates, last_day=last, degree_days=need)
    assert list(choice.nights) == list(dates[10:20])
    assert choice.quantile == baseload.FALLBACK_QUANTILE
    assert baseload.baseload_watts(demand, last_day=last, degree_days=need) == BASE_WATTS
    samples = demand.loc[demand["date"].isin(choice.nights), "watts"].to_numpy()
    assert np.quantile(samples, baseload.QUANTILE) > BASE_WATTS + 1000


def test_night_choice_prefers_recent_mild_nights_then_mild_ones_of_the_year():
    last = date(2025, 3, 31)
    dates = pd.date_range(end=pd.Timestamp(last), periods=120, freq="D")
    # Mild (0.5 DD) every fourth night, else cold: 7-8 mild nights in the last 30 days.
    need = pd.Series(np.where(np.arange(120) % 4 == 0, 0.5, 10.0), index=dates)

    choice = baseload.choose_nights(dates, last_day=last, degree_days=need)
    assert choice.quantile == baseload.QUANTILE
    assert list(choice.nights) == list(dates[::4][-2 * baseload.MIN_NIGHTS :])

    # Every other night mild: 15 in the window, all of them used.
    need = pd.Series(np.where(np.arange(120) % 2 == 0, 0.5, 10.0), index=dates)
    choice = baseload.choose_nights(dates, last_day=last, degree_days=need)
    assert list(choice.nights) == list(dates[::2][-15:])

    # Without weather: the last 30 nights, whatever they needed.
    choice = baseload.choose_nights(dates, last_day=last, degree_days=None)
    assert list(choice.nights) == list(dates[-baseload.WINDOW_DAYS :])
    assert choice.quantile == baseload.QUANTILE


def test_nights_after_the_day_or_over_a_year_before_are_not_chosen():
    last = date(2025, 6, 30)
    dates = pd.date_range(end=pd.Timestamp(last + timedelta(days=40)), periods=500, freq="D")
    choice = baseload.choose_nights(dates, last_day=last, degree_days=None)
    assert choice.nights[-1] == pd.Timestamp(last)
    assert len(choice.nights) == baseload.WINDOW_DAYS
    # Only cold nights, and only 9 of them within the year: no estimate.
    need = pd.Series(10.0, index=dates)
    few = dates[dates <= pd.Timestamp(last)][-9:]
    assert baseload.choose_nights(few, last_day=last, degree_days=need) is None


# --- peak time -------------------------------------------------------------------------------


def test_peak_hour_and_its_share():
    hours = np.tile(np.arange(24), 3)
    quantity = np.where(hours == 19, 4.0, 1.0)  # 4 of a 27-unit day
    hour, share = peak.peak_hour(hours, quantity)
    assert (hour, share) == (19, pytest.approx(4 / 27))


def test_shift_saving_moves_a_share_of_peak_priced_usage_to_the_cheapest_price():
    quantity = np.array([10.0, 5.0, 5.0])
    price = np.array([0.30, 0.10, 0.15])
    # 20 % of 10 units x (0.30 - 0.10) over 30 days, scaled to an average month.
    expected = 0.2 * 10 * 0.2 * (365.25 / 12) / 30
    assert peak.shift_saving(quantity, price, days=30) == pytest.approx(expected)
    assert peak.shift_saving(quantity, np.full(3, 0.2), days=30) == 0.0


# --- peers -----------------------------------------------------------------------------------


def test_peer_statistics_need_ten_other_homes():
    assert peers.peer_statistics(5.0, np.arange(1.0, 10.0)) is None  # 9 others
    stats = peers.peer_statistics(5.5, np.arange(1.0, 11.0))  # 10 others
    assert stats.cohort_size == 10
    assert stats.percentile == 50.0
    assert stats.average == 5.5
    assert stats.efficient == pytest.approx(2.8)  # 20th percentile of 1..10


def test_floor_area_bands():
    assert peers.floor_area_band(59) == (0, 60)
    assert peers.floor_area_band(60) == (60, 100)
    assert peers.floor_area_band(140) == (100, 150)
    assert peers.floor_area_band(900) == (250, None)


# --- scores ----------------------------------------------------------------------------------


def test_ashrae_scores():
    actual = np.array([10.0, 20.0, 30.0])
    predicted = np.array([12.0, 18.0, 30.0])
    assert metrics.mape(actual, predicted) == pytest.approx((0.2 + 0.1 + 0) / 3 * 100)
    assert metrics.cv_rmse(actual, predicted) == pytest.approx(np.sqrt(8 / 3) / 20 * 100)
    assert metrics.nmbe(actual, predicted) == pytest.approx(0.0)
    assert metrics.nmbe(actual, actual - 1) == pytest.approx(3 / 60 * 100)
    assert metrics.precision_recall({1, 2, 3, 4}, {1, 2, 5}) == (0.5, pytest.approx(2 / 3))


def test_the_numpy_mad_is_scipys_normal_scaled_mad_without_nan():
    from scipy.stats import median_abs_deviation

    values = np.random.default_rng(5).normal(3, 2, 61)
    values[[4, 17]] = np.nan
    assert anomalies._mad(values) == pytest.approx(
        median_abs_deviation(values, scale="normal", nan_policy="omit"), rel=1e-12
    )


def test_the_roof_hours_of_a_solar_home_are_neutralised_and_its_evening_kept():
    """Slots where the home sent energy back on a tenth of the days or more take the slot's
    median; the others keep their readings."""
    days = pd.date_range("2025-06-01", periods=10)
    drawn = pd.DataFrame(
        [
            (day, slot, 1.0 + slot + (5.0 if i == 3 else 0.0))
            for i, day in enumerate(days)
            for slot in range(3)
        ],
        columns=["date", "slot", "quantity"],
    )
    # Slot 1 exported on two days of ten (the roof's); slot 2 never.
    exported = (drawn["slot"] == 1) & drawn["date"].isin(days[:2])
    net = drawn.assign(quantity=np.where(exported, -0.5, 1.0))

    kept = _without_roof_hours(drawn, net)

    day3 = kept[kept["date"] == days[3]].set_index("slot")["quantity"]
    assert day3[1] == 2.0  # slot 1's median over the days, not 7.0
    assert day3[0] == 6.0 and day3[2] == 8.0
    assert kept[kept["slot"] != 1].equals(drawn[drawn["slot"] != 1])
