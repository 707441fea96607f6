"""Synthetic, deterministic meter data for the demo and for scoring the insight models.

Why synthetic: the demo needs a year and more of believable usage for many homes, and the insight
models need data whose truth is known — the always-on power, the balance points and slopes the
weather response was generated from, the days where an anomaly was injected — so that
``evaluate_insights`` can measure them. Real utility data carries none of that ground truth.

The module is plain numpy (no Django), vectorised over intervals and deterministic for a seed.
Each component draws from its own child of ``numpy.random.SeedSequence(seed)``, so switching one
component off (say, no anomalies) leaves every other component's draws unchanged.

Time: intervals are contiguous in UTC, while behaviour (the daily shape, weekends, which day's
temperature applies) follows the home's local calendar. A series covers whole local days, so a
15-minute series has 92 intervals on a spring-forward day and 100 on a fall-back day.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from usage.calendar import utc_offsets

ELECTRIC_INTERVAL_SECONDS = 900
GAS_INTERVAL_SECONDS = 3600
KWH_DECIMALS = 3
"""Wh resolution: what smart meters publish (ESPI uom 72, Wh)."""
THERM_DECIMALS = 4
KWH_PER_THERM = 29.3071

_DAY = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_PERSISTENCE = 0.7
"""Lag-1 autocorrelation of daily temperature anomalies: weather systems last several days."""


@dataclass(frozen=True)
class RegionClimate:
    """Climate and place of a weather region.

    The seasonal cycle is a sinusoid (``annual_mean_c`` ± ``amplitude_c``, coldest around
    ``coldest_day_of_year``: ~20 in the northern hemisphere, ~200 in the southern); day-to-day
    weather is AR(1) noise of standard deviation ``noise_sd_c`` (continental climates swing more
    than maritime ones). ``timezone`` is where homes of the region keep their clocks;
    ``latitude`` and ``longitude`` (degrees, east positive) where the sun is for rooftop solar,
    and ``overcast_share`` the share of overcast days over a year (more in winter).
    """

    annual_mean_c: float
    amplitude_c: float
    coldest_day_of_year: int
    noise_sd_c: float
    timezone: str
    latitude: float
    longitude: float
    overcast_share: float


WEATHER_REGIONS: dict[str, RegionClimate] = {
    "BOS": RegionClimate(10.9, 12.3, 22, 3.5, "America/New_York", 42.36, -71.06, 0.30),
    "NYC": RegionClimate(13.2, 12.3, 22, 3.3, "America/New_York", 40.71, -74.01, 0.28),
    "ATL": RegionClimate(17.4, 9.9, 18, 3.0, "America/New_York", 33.75, -84.39, 0.25),
    "MIA": RegionClimate(25.4, 3.9, 20, 1.5, "America/New_York", 25.76, -80.19, 0.20),
    "CHI": RegionClimate(10.4, 14.0, 22, 4.2, "America/Chicago", 41.88, -87.63, 0.35),
    "DEN": RegionClimate(10.6, 11.9, 18, 4.5, "America/Denver", 39.74, -104.99, 0.20),
    "PHX": RegionClimate(24.3, 10.8, 15, 2.0, "America/Phoenix", 33.45, -112.07, 0.08),
    "SEA": RegionClimate(11.7, 7.1, 15, 2.0, "America/Los_Angeles", 47.61, -122.33, 0.45),
    "DEL": RegionClimate(25.0, 8.5, 15, 1.8, "Asia/Kolkata", 28.61, 77.21, 0.15),
    "SYD": RegionClimate(18.3, 5.4, 200, 2.2, "Australia/Sydney", -33.87, 151.21, 0.22),
    "LHI": RegionClimate(19.3, 3.5, 210, 1.2, "Australia/Lord_Howe", -31.55, 159.08, 0.25),
    "CHT": RegionClimate(11.5, 3.6, 210, 1.8, "Pacific/Chatham", -43.95, -176.56, 0.40),
}


def _climate(region: str) -> RegionClimate:
    climate = WEATHER_REGIONS.get(region)
    if climate is None:
        raise ValueError(f"unknown weather region {region!r}; known: {', '.join(WEATHER_REGIONS)}")
    return climate


def weather_series(*, region: str, start: date, days: int, seed: int) -> np.ndarray:
    """Daily mean temperature (°C, 0.1 °C like a weather feed) of ``region`` from ``start``.

    Seasonal sinusoid plus AR(1) anomalies whose spread is larger in winter (storm tracks make
    cold-season weather more variable). The region name is mixed into the seed so regions sharing
    a seed still get independent weather. ``seed`` must be non-negative.
    """
    climate = _climate(region)
    if days < 1:
        raise ValueError("days must be at least 1")
    rng = np.random.default_rng([seed, zlib.crc32(region.encode())])
    dates = np.datetime64(start, "D") + np.arange(days)
    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
    phase = 2 * np.pi * (day_of_year - climate.coldest_day_of_year) / 365.25
    seasonal = climate.annual_mean_c - climate.amplitude_c * np.cos(phase)
    spread = climate.noise_sd_c * (1 + 0.3 * np.cos(phase))
    # Unit-variance AR(1): the first value is drawn from the stationary distribution. A loop over
    # days is cheap (one scalar step per day); the recursion has no vectorised numpy form.
    anomaly = rng.standard_normal(days)
    innovation_scale = np.sqrt(1 - _PERSISTENCE**2)
    for i in range(1, days):
        anomaly[i] = _PERSISTENCE * anomaly[i - 1] + innovation_scale * anomaly[i]
    return np.round(seasonal + spread * anomaly, 1)


HOME_TYPES = ("DETACHED", "SEMI_DETACHED", "TERRACED", "APARTMENT", "MOBILE")
_TYPE_SHARE = (0.45, 0.15, 0.15, 0.20, 0.05)
_MEDIAN_AREA_SQM = {
    "DETACHED": 170,
    "SEMI_DETACHED": 125,
    "TERRACED": 105,
    "APARTMENT": 75,
    "MOBILE": 85,
}
_EXPOSURE = {
    "DETACHED": 1.0,
    "SEMI_DETACHED": 0.8,
    "TERRACED": 0.7,
    "APARTMENT": 0.55,
    "MOBILE": 1.5,
}
"""Heat loss relative to a detached house of the same area: shared walls lose nothing, thin
mobile-home shells lose a lot."""
_ELECTRIC_HEAT_SHARE = {
    "DETACHED": 0.3,
    "SEMI_DETACHED": 0.3,
    "TERRACED": 0.3,
    "APARTMENT": 0.55,
    "MOBILE": 0.6,
}


@dataclass(frozen=True)
class HomeProfile:
    """What drives one home's consumption.

    Slopes are per degree-day (°C·day): ``heating_kwh_per_hdd`` is the electric heating response
    (a heat pump's, or only the furnace blower's in a gas-heated home), ``gas_therms_per_hdd``
    the furnace's. ``compressor_watts`` is the rated draw of the heat pump / air conditioner,
    which cycles on and off at that power. ``baseload_watts`` is the always-on power (fridge,
    router, standby), the truth behind the ALWAYS_ON insight.
    """

    home_type: str
    floor_area_sqm: int
    heating_fuel: str
    has_cooling: bool
    occupants: int
    home_during_day: bool
    baseload_watts: float
    heating_balance_c: float
    heating_kwh_per_hdd: float
    cooling_balance_c: float
    cooling_kwh_per_cdd: float
    compressor_watts: float
    gas_therms_per_hdd: float
    gas_base_therms_per_day: float
    spikes_per_day: float

    @property
    def has_gas(self) -> bool:
        """Gas-heated homes have a gas meter (and a gas water heater and hob)."""
        return self.heating_fuel == "GAS"


def random_profile(rng: np.random.Generator) -> HomeProfile:
    """A plausible home, varied enough that peers of the same type and size still differ.

    The envelope heat-loss coefficient (W/K) follows floor area, home type and insulation
    quality; heating and cooling slopes follow from it through the equipment's efficiency (heat
    pump COP 2.2-3.2, furnace 80-95 %, air conditioner COP 2.8-3.8 with solar and internal gains
    on top), so big leaky homes respond strongly to weather and small apartments barely do.
    """
    home_type = str(rng.choice(HOME_TYPES, p=_TYPE_SHARE))
    area = int(np.clip(_MEDIAN_AREA_SQM[home_type] * np.exp(rng.normal(0, 0.25)), 30, 500))
    occupants = 1 + int(rng.binomial(4, 0.35 if home_type == "APARTMENT" else 0.5))
    electric_heat = rng.random() < _ELECTRIC_HEAT_SHARE[home_type]
    heat_loss_w_per_k = area * _EXPOSURE[home_type] * rng.uniform(1.2, 2.8)
    heat_kwh_per_hdd = heat_loss_w_per_k * 24 / 1000
    if electric_heat:
        compressor_cop = rng.uniform(2.2, 3.2)  # the heat pump's, in heating mode
        heating_kwh_per_hdd = heat_kwh_per_hdd / compressor_cop
        gas_therms_per_hdd = 0.0
        gas_base = 0.0
    else:
        compressor_cop = 3.0  # only an air conditioner, if any
        heating_kwh_per_hdd = 0.03 * heat_kwh_per_hdd
        gas_therms_per_hdd = heat_kwh_per_hdd / KWH_PER_THERM / rng.uniform(0.8, 0.95)
        gas_base = (0.15 + 0.12 * occupants) * np.exp(rng.normal(0, 0.2))
    has_cooling = bool(rng.random() < 0.7)
    cooling = heat_kwh_per_hdd * rng.uniform(1.1, 1.5) / rng.uniform(2.8, 3.8)
    # Sized for a design day ~30 K beyond the balance point.
    compressor_watts = float(np.clip(heat_loss_w_per_k * 30 / compressor_cop, 1500, 9000))
    return HomeProfile(
        home_type=home_type,
        floor_area_sqm=area,
        heating_fuel="ELECTRIC" if electric_heat else "GAS",
        has_cooling=has_cooling,
        occupants=occupants,
        home_during_day=bool(rng.random() < 0.3),
        baseload_watts=round(
            float(np.clip((50 + 0.8 * area) * np.exp(rng.normal(0, 0.3)), 40, 900)), 1
        ),
        heating_balance_c=round(float(rng.uniform(14.5, 18.0)), 1),
        heating_kwh_per_hdd=round(float(heating_kwh_per_hdd), 3),
        cooling_balance_c=round(float(rng.uniform(20.5, 24.0)), 1),
        cooling_kwh_per_cdd=round(float(cooling), 3) if has_cooling else 0.0,
        compressor_watts=round(compressor_watts),
        gas_therms_per_hdd=round(float(gas_therms_per_hdd), 4),
        gas_base_therms_per_day=round(float(gas_base), 3),
        spikes_per_day=round(float((0.8 + 0.5 * occupants) * np.exp(rng.normal(0, 0.2))), 2),
    )


@dataclass(frozen=True)
class Imperfections:
    """What makes real meter data messy, at yearly rates (counts scale with the series length).

    Outages are multi-hour communication failures: the intervals are missing. Estimated runs are
    VEE fills (linear interpolation between the neighbouring actual reads, as utilities do for
    short gaps) flagged ``estimated``; ``estimated_share`` is their share of all intervals.
    Anomalies are whole-day events the models should flag — a space heater or a thermostat left
    on for ``anomaly_hours`` — placed on days free of outages and estimates so their excess is
    exactly known.
    """

    outages_per_year: float = 4.0
    outage_hours: tuple[float, float] = (2.0, 12.0)
    estimated_share: float = 0.02
    estimated_run_hours: tuple[float, float] = (1.0, 6.0)
    anomalies_per_year: float = 4.0
    anomaly_hours: tuple[float, float] = (8.0, 16.0)
    anomaly_rate: tuple[float, float] | None = None
    """Extra load while an anomaly lasts, in the series' unit per hour; None: the meter kind's
    default (a 1-2 kW space heater; 0.1-0.3 therm/h of a thermostat left high)."""

    def __post_init__(self) -> None:
        # Anomalies start at 06:00 local at the earliest and must end within their day.
        if not 0 < self.anomaly_hours[0] <= self.anomaly_hours[1] <= 18:
            raise ValueError("anomaly_hours must be an increasing range within (0, 18]")


DEFAULT_IMPERFECTIONS = Imperfections()

#: Lasting changes of a household's use (:class:`Behaviour`).
APPLIANCE = "APPLIANCE"
OCCUPANT = "OCCUPANT"
EV = "EV"
CHANGE_KINDS = (APPLIANCE, OCCUPANT, EV)


@dataclass(frozen=True)
class Behaviour:
    """How a household's habits move over time (electric series only).

    ``day_noise_sd`` is the day-to-day spread (log scale) of occupant-driven use. Away spells
    (``away_spells_per_year``, each ``away_days`` long) leave only the always-on power and the
    heating or cooling. Lasting changes (``changes_per_year``) start on a random day and stay:
    a new always-on appliance (a second freezer, an aquarium: +60-300 W), an extra occupant
    (occupant use and appliance runs x1.25-1.5) or an electric car (6-14 kWh charged at 7.2 kW
    from around midnight on four nights in five). The defaults are a steady home.
    """

    day_noise_sd: float = 0.12
    away_spells_per_year: float = 0.0
    away_days: tuple[int, int] = (3, 10)
    changes_per_year: float = 0.0


STEADY = Behaviour()
#: Homes that behave like real ones: noisier days, a holiday or two, a change or two a year.
DRIFTING = Behaviour(
    day_noise_sd=0.15, away_spells_per_year=2.0, away_days=(2, 7), changes_per_year=1.5
)


class Change(NamedTuple):
    """A lasting change of a household's use from ``local_date`` on."""

    local_date: date
    kind: str
    """:data:`APPLIANCE` (``size``: W), :data:`OCCUPANT` (``size``: factor) or :data:`EV`
    (``size``: kWh a charging night)."""
    size: float


class Anomaly(NamedTuple):
    """An injected anomalous local day."""

    local_date: date
    excess: float
    """Quantity added on that local day, in the series' unit."""


@dataclass(frozen=True)
class GroundTruth:
    """The generator's truth, for scoring models. Slopes are in the series' unit per °C·day."""

    baseload_watts: float | None
    heating_balance_c: float
    heating_slope: float
    cooling_balance_c: float
    cooling_slope: float
    anomalies: list[Anomaly]
    outages: list[tuple[int, int]]
    """Missing ``[start, end)`` spans, UTC epoch seconds."""
    first_local_date: date
    temperatures: np.ndarray
    """Daily mean °C per local day from ``first_local_date``: the weather the usage followed."""
    changes: tuple[Change, ...] = ()
    away_dates: tuple[date, ...] = ()

    def baseload_watts_on(self, day: date) -> float | None:
        """The always-on power on local ``day``: the home's own plus any new appliance's."""
        if self.baseload_watts is None:
            return None
        added = sum(c.size for c in self.changes if c.kind == APPLIANCE and c.local_date <= day)
        return self.baseload_watts + added


@dataclass(frozen=True)
class SyntheticSeries:
    """One meter's readings: ``starts`` (UTC epoch s, ascending, gaps left out), ``quantities``
    (rounded to ``decimals``, non-negative), ``estimated`` flags, all of equal length."""

    starts: np.ndarray
    quantities: np.ndarray
    estimated: np.ndarray
    interval_seconds: int
    unit: str
    decimals: int
    ground_truth: GroundTruth


@dataclass(frozen=True)
class _Clock:
    """Interval grid of a series with each interval's local calendar position."""

    starts: np.ndarray
    step: int
    day_index: np.ndarray
    hour: np.ndarray
    weekend: np.ndarray
    first_local_date: date
    days: int

    @property
    def hours_per_interval(self) -> float:
        return self.step / 3600


def _clock(start_utc: datetime, days: int, tz: str, step: int) -> _Clock:
    """Contiguous UTC grid from ``start_utc`` to the local midnight ``days`` local days later."""
    if start_utc.tzinfo is None:
        raise ValueError("start_utc must be timezone-aware")
    if days < 1:
        raise ValueError("days must be at least 1")
    zone = ZoneInfo(tz)
    first_local_date = start_utc.astimezone(zone).date()
    start = int(start_utc.timestamp())
    end = int(datetime.combine(first_local_date + timedelta(days=days), time(), zone).timestamp())
    starts = start + step * np.arange((end - start) // step, dtype=np.int64)
    local = starts + utc_offsets(starts, zone)
    day_number = local // _DAY
    return _Clock(
        starts=starts,
        step=step,
        day_index=day_number - (first_local_date.toordinal() - _EPOCH_ORDINAL),
        hour=(local % _DAY) / 3600,
        weekend=(day_number + 3) % 7 >= 5,  # 1970-01-01 was a Thursday (Monday = 0)
        first_local_date=first_local_date,
        days=days,
    )


def _daily_temperatures(temperatures: np.ndarray, days: int) -> np.ndarray:
    temperatures = np.asarray(temperatures, dtype=np.float64)
    if temperatures.ndim != 1 or temperatures.size < days:
        raise ValueError(f"need one temperature per local day ({days}), got {temperatures.shape}")
    return temperatures[:days]


def _bump(hour: np.ndarray, center: np.ndarray | float, width: float) -> np.ndarray:
    """Gaussian bump on the 24-hour circle (an evening peak wraps past midnight smoothly)."""
    distance = (hour - center + 12) % 24 - 12
    return np.exp(-0.5 * (distance / width) ** 2)


def _daytime(hour: np.ndarray) -> np.ndarray:
    """Smooth 09:00-17:00 window: the hours a household is out at work or school."""
    return 1 / (1 + np.exp(-2 * (hour - 9))) / (1 + np.exp(2 * (hour - 17)))


def _thermostat_cycles(demand: np.ndarray, chunk: float, rng: np.random.Generator) -> np.ndarray:
    """Deliver ``demand`` (per interval) in whole compressor/burner cycles of ``chunk`` each.

    A thermostat runs the equipment at full power for a cycle whenever the accumulated deficit
    exceeds one cycle's output, so mild weather shows as occasional bursts with idle intervals
    in between (which is why night-time minima still reveal the baseload) and the total tracks
    the demand to within one cycle.
    """
    accumulated = rng.uniform(0, chunk) + np.cumsum(demand)
    return np.diff(np.floor(accumulated / chunk), prepend=0.0) * chunk


def _weather_driven(
    *,
    clock: _Clock,
    degree_days: np.ndarray,
    slope: float,
    peak_hour: float,
    swing: float,
    cycle_output: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Heating or cooling energy per interval from daily degree-days.

    The day's need is ``slope x degree-days`` (±10 % for wind, sun and thermostat fiddling),
    spread over the day by a sinusoid peaking at ``peak_hour`` (heating before dawn, cooling in
    the afternoon sun), then delivered in thermostat cycles.
    """
    daily = slope * degree_days * np.exp(rng.normal(0, 0.1, clock.days))
    weight = 1 + swing * np.cos(2 * np.pi * (clock.hour - peak_hour) / 24)
    demand = daily[clock.day_index] * weight * clock.hours_per_interval / 24
    return _thermostat_cycles(demand, cycle_output, rng)


def _occupant_shape(clock: _Clock, profile: HomeProfile) -> np.ndarray:
    """Expected occupant-driven power (W): breakfast peak (later at weekends), low daytime use
    when the household is out, the evening peak of cooking, lighting and screens. Larger
    households and homes use more."""
    at_home = clock.weekend | profile.home_during_day
    shape = (
        550 * _bump(clock.hour, np.where(clock.weekend, 8.5, 7.0), 1.1)
        + 850 * _bump(clock.hour, 19.0, 2.0)
        + np.where(at_home, 320.0, 60.0) * _daytime(clock.hour)
    )
    return shape * (0.55 + 0.22 * profile.occupants) * (profile.floor_area_sqm / 120) ** 0.3


def _spike_watts(
    clock: _Clock, shape: np.ndarray, per_day: float, rng: np.random.Generator
) -> np.ndarray:
    """Big appliances (oven, dryer, dishwasher, kettle runs): 1-4.5 kW for up to an hour,
    started when people are active (probability follows the occupant shape)."""
    n = clock.starts.size
    count = rng.poisson(per_day * n * clock.step / _DAY)
    first = rng.choice(n, size=count, p=shape / shape.sum())
    length = rng.integers(1, 3600 // clock.step + 1, size=count)
    power = rng.uniform(1000, 4500, size=count)
    offsets = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    index = np.repeat(first, length) + offsets
    inside = index < n
    watts = np.zeros(n)
    np.add.at(watts, index[inside], np.repeat(power, length)[inside])
    return watts


def _place_segments(n: int, lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Place segments of ``lengths`` at random, non-overlapping, in ``n`` slots; returns the
    start of each (in the order given). Uniform over placements: choose where the ``k`` segments
    sit among the ``n - Σlengths`` free slots."""
    k = lengths.size
    free = n - int(lengths.sum())
    if free < 0:
        raise ValueError("imperfections cover more than the whole series")
    order = rng.permutation(k)
    slots = np.sort(rng.choice(free + k, size=k, replace=False))
    placed = lengths[order]
    starts_in_order = slots - np.arange(k) + np.cumsum(placed) - placed
    starts = np.empty(k, dtype=np.int64)
    starts[order] = starts_in_order
    return starts


def _expand(starts: np.ndarray, lengths: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    mask[np.repeat(starts, lengths) + offsets] = True
    return mask


def _run_lengths(
    total: int, bounds: tuple[float, float], per_hour: float, rng: np.random.Generator
) -> np.ndarray:
    """Run lengths (intervals) of ``bounds`` hours summing to exactly ``total``."""
    if total <= 0:
        return np.zeros(0, dtype=np.int64)
    shortest = max(1, round(bounds[0] * per_hour))
    draws = np.maximum(
        1, np.round(rng.uniform(*bounds, size=total // shortest + 1) * per_hour)
    ).astype(np.int64)
    cumulative = np.cumsum(draws)
    used = int(np.searchsorted(cumulative, total)) + 1
    lengths = draws[:used].copy()
    lengths[-1] -= cumulative[used - 1] - total
    return lengths


def _finish(
    *,
    clock: _Clock,
    quantities: np.ndarray,
    imperfections: Imperfections,
    default_anomaly_rate: tuple[float, float],
    decimals: int,
    unit: str,
    temperatures: np.ndarray,
    defects_rng: np.random.Generator,
    anomaly_rng: np.random.Generator,
    quiet_days: np.ndarray | None = None,
    **truth,
) -> SyntheticSeries:
    """Inject anomalies, then degrade the clean series as a meter data system would: drop the
    outages and replace the estimated runs with VEE interpolation of the surrounding reads.
    ``truth`` is the rest of the :class:`GroundTruth` (baseload, balance points, slopes,
    changes); no anomaly lands on ``quiet_days`` (a mask by local day: days away)."""
    n = clock.starts.size
    per_hour = 3600 / clock.step
    years = clock.days / 365
    outage_lengths = np.maximum(
        1,
        np.round(
            defects_rng.uniform(
                *imperfections.outage_hours, size=round(imperfections.outages_per_year * years)
            )
            * per_hour
        ),
    ).astype(np.int64)
    estimated_lengths = _run_lengths(
        round(imperfections.estimated_share * n),
        imperfections.estimated_run_hours,
        per_hour,
        defects_rng,
    )
    segment_starts = _place_segments(
        n, np.concatenate([outage_lengths, estimated_lengths]), defects_rng
    )
    outage_starts = segment_starts[: outage_lengths.size]
    missing = _expand(outage_starts, outage_lengths, n)
    estimated = _expand(segment_starts[outage_lengths.size :], estimated_lengths, n)

    # Anomalies go on whole local days (not the possibly partial first and last) that are free
    # of defects, so every added Wh reaches the output as an actual read.
    dirty = np.bincount(clock.day_index[missing | estimated], minlength=clock.days) > 0
    if quiet_days is not None:
        dirty |= quiet_days
    candidates = np.flatnonzero(~dirty[1:-1]) + 1
    count = min(round(imperfections.anomalies_per_year * years), candidates.size)
    days = np.sort(anomaly_rng.choice(candidates, size=count, replace=False))
    hours = anomaly_rng.uniform(*imperfections.anomaly_hours, size=count)
    begins = anomaly_rng.uniform(6, 24 - hours)
    rates = anomaly_rng.uniform(*(imperfections.anomaly_rate or default_anomaly_rate), size=count)
    which = np.full(clock.days, -1)
    which[days] = np.arange(count)
    anomaly = which[clock.day_index]
    hit = np.flatnonzero(anomaly >= 0)
    on = (clock.hour[hit] >= begins[anomaly[hit]]) & (
        clock.hour[hit] < begins[anomaly[hit]] + hours[anomaly[hit]]
    )
    hit = hit[on]
    added = rates[anomaly[hit]] * clock.hours_per_interval
    quantities = quantities.copy()
    quantities[hit] += added
    excess = np.bincount(anomaly[hit], weights=added, minlength=count)
    anomalies = [
        Anomaly(clock.first_local_date + timedelta(days=int(d)), round(float(e), decimals))
        for d, e in zip(days, excess, strict=True)
    ]

    known = ~(missing | estimated)
    position = np.arange(n)
    quantities[estimated] = np.interp(position[estimated], position[known], quantities[known])
    kept = ~missing
    outages = [
        (int(clock.starts[s]), int(clock.starts[s]) + int(length) * clock.step)
        for s, length in zip(outage_starts, outage_lengths, strict=True)
    ]
    outages.sort()
    return SyntheticSeries(
        starts=clock.starts[kept],
        quantities=np.round(quantities[kept], decimals),
        estimated=estimated[kept],
        interval_seconds=clock.step,
        unit=unit,
        decimals=decimals,
        ground_truth=GroundTruth(
            anomalies=anomalies,
            outages=outages,
            first_local_date=clock.first_local_date,
            temperatures=temperatures,
            **truth,
        ),
    )


def _away_days(days: int, behaviour: Behaviour, rng: np.random.Generator) -> np.ndarray:
    """A mask by local day of the days the household is away (spells never overlap)."""
    count = rng.poisson(behaviour.away_spells_per_year * days / 365)
    lengths = rng.integers(behaviour.away_days[0], behaviour.away_days[1] + 1, size=count)
    away = np.zeros(days, dtype=bool)
    if count and lengths.sum() < days:
        away[_expand(_place_segments(days, lengths, rng), lengths, days)] = True
    return away


def _changes(clock: _Clock, behaviour: Behaviour, rng: np.random.Generator) -> list[Change]:
    """The lasting changes of the series, by date; at most one of each kind."""
    count = min(len(CHANGE_KINDS), rng.poisson(behaviour.changes_per_year * clock.days / 365))
    kinds = rng.choice(CHANGE_KINDS, size=count, replace=False)
    days = np.sort(rng.integers(1, clock.days, size=count))
    sizes = {APPLIANCE: (60.0, 300.0), OCCUPANT: (1.25, 1.5), EV: (6.0, 14.0)}
    return [
        Change(
            clock.first_local_date + timedelta(days=int(day)),
            str(kind),
            round(float(rng.uniform(*sizes[str(kind)])), 2),
        )
        for kind, day in zip(kinds, days, strict=True)
    ]


#: An electric car's charger (W), and the local hour its timer starts around.
EV_CHARGER_WATTS = 7200.0
EV_START_HOUR = 0.0


def _changed_use(
    clock: _Clock, changes: list[Change], away: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Power (W) the changes add per interval, and the factor on occupant use (an extra
    occupant). The car charges on four home nights in five, from around midnight until its
    night's energy is in."""
    added = np.zeros(clock.starts.size)
    people = np.ones(clock.starts.size)
    for change in changes:
        since = clock.day_index >= (change.local_date - clock.first_local_date).days
        if change.kind == APPLIANCE:
            added += np.where(since, change.size, 0.0)
        elif change.kind == OCCUPANT:
            people = np.where(since, change.size, people)
        else:
            charging = (rng.random(clock.days) < 0.8) & ~away
            start = EV_START_HOUR + rng.uniform(0, 1, clock.days)
            hours = change.size * 1000 / EV_CHARGER_WATTS * rng.uniform(0.7, 1.3, clock.days)
            offset = clock.hour - start[clock.day_index]
            on = (
                since
                & charging[clock.day_index]
                & (offset >= 0)
                & (offset < hours[clock.day_index])
            )
            added += np.where(on, EV_CHARGER_WATTS, 0.0)
    return added, people


def electric_intervals(
    *,
    profile: HomeProfile,
    start_utc: datetime,
    days: int,
    tz: str,
    temperatures: np.ndarray,
    seed: int,
    imperfections: Imperfections = DEFAULT_IMPERFECTIONS,
    behaviour: Behaviour = STEADY,
) -> SyntheticSeries:
    """15-minute kWh readings of one home for ``days`` local days from ``start_utc``.

    The series ends at the local midnight ``days`` local days after ``start_utc``'s local date;
    ``temperatures[i]`` is the daily mean of local day ``i``. Components: always-on power
    (constant ± 3 %), occupant load (daily and weekly shape, day-to-day and interval noise),
    appliance spikes, heat-pump heating on HDD and air conditioning on CDD delivered in
    compressor cycles, the household's ``behaviour`` (away spells, lasting changes), then
    anomalies, outages and estimated reads (``imperfections``).
    """
    clock = _clock(start_utc, days, tz, ELECTRIC_INTERVAL_SECONDS)
    temps = _daily_temperatures(temperatures, days)
    always_on, occupants, spikes, heating, cooling, defects, anomalies, away_rng, change_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(9)
    )
    n = clock.starts.size
    base = profile.baseload_watts * (1 + always_on.normal(0, 0.03, n)).clip(min=0)
    shape = _occupant_shape(clock, profile)
    occupant = (
        shape
        * np.exp(occupants.normal(0, behaviour.day_noise_sd, days))[clock.day_index]
        * occupants.gamma(4.0, 0.25, n)
    )
    spike = _spike_watts(clock, shape, profile.spikes_per_day, spikes)
    away = _away_days(clock.days, behaviour, away_rng)
    changes = _changes(clock, behaviour, change_rng)
    change_watts, people = _changed_use(clock, changes, away, change_rng)
    home = np.where(away[clock.day_index], 0.15, 1.0) * people
    watts = base + (occupant + spike) * home + change_watts
    cycle_kwh = profile.compressor_watts * (10 / 60) / 1000
    hvac = _weather_driven(
        clock=clock,
        degree_days=np.maximum(0, profile.heating_balance_c - temps),
        slope=profile.heating_kwh_per_hdd,
        peak_hour=6.0,
        swing=0.3,
        cycle_output=cycle_kwh,
        rng=heating,
    ) + _weather_driven(
        clock=clock,
        degree_days=np.maximum(0, temps - profile.cooling_balance_c),
        slope=profile.cooling_kwh_per_cdd,
        peak_hour=16.0,
        swing=0.7,
        cycle_output=cycle_kwh,
        rng=cooling,
    )
    return _finish(
        clock=clock,
        quantities=watts * clock.hours_per_interval / 1000 + hvac,
        imperfections=imperfections,
        default_anomaly_rate=(1.0, 2.0),  # a 1-2 kW space heater
        decimals=KWH_DECIMALS,
        unit="kWh",
        temperatures=temps,
        defects_rng=defects,
        anomaly_rng=anomalies,
        quiet_days=away,
        changes=tuple(changes),
        away_dates=tuple(
            clock.first_local_date + timedelta(days=int(d)) for d in np.flatnonzero(away)
        ),
        baseload_watts=profile.baseload_watts,
        heating_balance_c=profile.heating_balance_c,
        heating_slope=profile.heating_kwh_per_hdd,
        cooling_balance_c=profile.cooling_balance_c,
        cooling_slope=profile.cooling_kwh_per_cdd,
    )


def gas_intervals(
    *,
    profile: HomeProfile,
    start_utc: datetime,
    days: int,
    tz: str,
    temperatures: np.ndarray,
    seed: int,
    imperfections: Imperfections = DEFAULT_IMPERFECTIONS,
) -> SyntheticSeries:
    """Hourly therm readings of a gas-heated home, same time conventions as
    :func:`electric_intervals`.

    Space heating dominates: furnace burns on HDD, delivered in burner cycles. The rest is the
    water heater (standby losses all day, showers in the morning, dishes in the evening) and
    the hob around dinner time, normalised so a 24-hour local day uses
    ``gas_base_therms_per_day`` before noise.
    """
    if not profile.has_gas:
        raise ValueError("this home has no gas service (heating_fuel is not GAS)")
    clock = _clock(start_utc, days, tz, GAS_INTERVAL_SECONDS)
    temps = _daily_temperatures(temperatures, days)
    household, heating, defects, anomalies = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    n = clock.starts.size
    weight = (
        0.35
        + 1.6 * _bump(clock.hour, np.where(clock.weekend, 8.5, 7.0), 1.0)
        + 1.3 * _bump(clock.hour, 19.0, 1.8)
    )
    day_mean = np.bincount(clock.day_index, weights=weight) / np.bincount(clock.day_index)
    hot_water = (
        profile.gas_base_therms_per_day
        * (weight / day_mean[clock.day_index])
        * (clock.hours_per_interval / 24)
        * np.exp(household.normal(0, 0.15, days))[clock.day_index]
        * household.gamma(3.0, 1 / 3, n)
    )
    # Furnaces are oversized ~2.5x the design load; one burner cycle runs ~12 minutes.
    burner_therms_per_hour = max(0.4, 2.5 * profile.gas_therms_per_hdd * 30 / 24)
    space_heat = _weather_driven(
        clock=clock,
        degree_days=np.maximum(0, profile.heating_balance_c - temps),
        slope=profile.gas_therms_per_hdd,
        peak_hour=6.0,
        swing=0.3,
        cycle_output=burner_therms_per_hour * 12 / 60,
        rng=heating,
    )
    return _finish(
        clock=clock,
        quantities=hot_water + space_heat,
        imperfections=imperfections,
        default_anomaly_rate=(0.1, 0.3),  # thermostat left high / window left open
        decimals=THERM_DECIMALS,
        unit="therm",
        temperatures=temps,
        defects_rng=defects,
        anomaly_rng=anomalies,
        baseload_watts=None,
        heating_balance_c=profile.heating_balance_c,
        heating_slope=profile.gas_therms_per_hdd,
        cooling_balance_c=profile.cooling_balance_c,
        cooling_slope=0.0,
    )


# --- rooftop solar ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SolarArray:
    """A rooftop photovoltaic array facing the equator.

    ``kilowatts_peak`` is its DC rating (its output under 1 kW/m² of sun), ``tilt_degrees`` the
    roof's pitch and ``performance_ratio`` the share that reaches the meter after the inverter,
    wiring, heat and dirt (0.75-0.85 for a good system).
    """

    kilowatts_peak: float
    tilt_degrees: float = 25.0
    performance_ratio: float = 0.8


#: Share of the clear sky's irradiance that comes straight from the sun's disc (the rest is
#: diffuse), and the share of sunlight the ground reflects.
_BEAM_SHARE = 0.85
_ALBEDO = 0.2
#: Day-to-day persistence of overcast weather: cloudy spells last a few days.
_OVERCAST_PERSISTENCE = 0.5


def _clear_sky_kw_per_sqm(
    mid: np.ndarray, *, latitude: float, longitude: float, tilt_degrees: float
) -> np.ndarray:
    """Clear-sky irradiance (kW/m²) on a plane tilted ``tilt_degrees`` toward the equator at
    UTC epoch seconds ``mid``: the sun's declination and the equation of time by day of year,
    its hour angle from the longitude (solar time, so nothing shifts with clocks or DST), the
    Haurwitz clear-sky model for the horizontal, split into beam and diffuse; 0 at night."""
    days = (mid // _DAY).astype("datetime64[D]")
    day_of_year = (days - days.astype("datetime64[Y]")).astype(np.int64) + 1
    declination = np.radians(23.45) * np.sin(2 * np.pi * (284 + day_of_year) / 365)
    b = 2 * np.pi * (day_of_year - 81) / 364
    equation_of_time_h = (9.87 * np.sin(2 * b) - 7.53 * np.cos(b) - 1.5 * np.sin(b)) / 60
    solar_hour = (mid % _DAY) / 3600 + longitude / 15 + equation_of_time_h
    hour_angle = np.radians(15 * (solar_hour - 12))
    phi = np.radians(latitude)
    tilt = np.radians(tilt_degrees)
    facing = phi - np.sign(phi) * tilt  # a tilted plane sees the sun as a flat one there would
    cos_zenith = np.sin(phi) * np.sin(declination) + np.cos(phi) * np.cos(declination) * np.cos(
        hour_angle
    )
    cos_incidence = np.sin(facing) * np.sin(declination) + np.cos(facing) * np.cos(
        declination
    ) * np.cos(hour_angle)
    up = cos_zenith > 0
    safe = np.where(up, cos_zenith, 1.0)
    transmitted = 1.098 * np.exp(-0.057 / safe)  # Haurwitz: horizontal = cos z x this
    horizontal = safe * transmitted
    beam = _BEAM_SHARE * transmitted * np.maximum(cos_incidence, 0)
    diffuse = (1 - _BEAM_SHARE) * horizontal * (1 + np.cos(tilt)) / 2
    reflected = _ALBEDO * horizontal * (1 - np.cos(tilt)) / 2
    return np.where(up, beam + diffuse + reflected, 0.0)


def _clearness(
    day_of_year: np.ndarray, climate: RegionClimate, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each day's clearness (share of the clear sky that gets through) and whether it was
    overcast. Overcast days come in spells (a two-state Markov chain) with the region's share,
    more of them in winter; they pass 10-35 % of the clear sky, other days 55-100 %."""
    phase = 2 * np.pi * (day_of_year - climate.coldest_day_of_year) / 365.25
    share = np.clip(climate.overcast_share * (1 + 0.4 * np.cos(phase)), 0, 0.95)
    draws = rng.random(day_of_year.size)
    overcast = np.zeros(day_of_year.size, dtype=bool)
    previous = bool(draws[0] < share[0]) if day_of_year.size else False
    # One scalar step per day (as the weather's AR(1)); the chain has no vectorised form.
    for i in range(day_of_year.size):
        p = share[i]
        stay = p + _OVERCAST_PERSISTENCE * (1 - p) if previous else p * (1 - _OVERCAST_PERSISTENCE)
        previous = overcast[i] = draws[i] < stay
    clearness = np.where(
        overcast,
        rng.uniform(0.1, 0.35, day_of_year.size),
        1 - 0.45 * rng.beta(1.2, 2.5, day_of_year.size),
    )
    return clearness, overcast


def solar_intervals(
    *, array: SolarArray, region: str, starts: np.ndarray, interval_seconds: int, seed: int
) -> np.ndarray:
    """kWh ``array`` generates in each interval ``[start, start + interval_seconds)`` (``starts``
    in UTC epoch seconds) on a roof in ``region``, to Wh.

    The shape follows the sun at each interval's midpoint: zero at night, a bell around solar
    noon, longer and higher days in summer. Each solar day has a clearness: overcast days
    (the region's share, in spells, more in winter) give a fraction of a clear day, and
    broken-cloud days flicker from interval to interval as clouds pass.
    """
    climate = _climate(region)
    days_rng, clouds_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    starts = np.asarray(starts, dtype=np.int64)
    mid = starts + interval_seconds // 2
    irradiance = _clear_sky_kw_per_sqm(
        mid,
        latitude=climate.latitude,
        longitude=climate.longitude,
        tilt_degrees=array.tilt_degrees,
    )
    if starts.size == 0:
        return np.zeros(0)
    solar_day = (mid + round(climate.longitude * 240)) // _DAY
    first = int(solar_day.min())
    day_index = solar_day - first
    dates = np.datetime64(date.fromordinal(_EPOCH_ORDINAL + first), "D") + np.arange(
        int(day_index.max()) + 1
    )
    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
    clearness, overcast = _clearness(day_of_year, climate, days_rng)
    kt = clearness[day_index]
    spread = np.where(overcast[day_index], 0.2, 2.0 * (1 - kt))
    passing = np.clip(kt * (1 + spread * clouds_rng.standard_normal(starts.size)), 0.03, 1.05)
    kwh = (
        array.kilowatts_peak
        * array.performance_ratio
        * irradiance
        * passing
        * interval_seconds
        / 3600
    )
    return np.round(kwh, KWH_DECIMALS)


#: Installers size an array to make this share of what the home uses in a year.
_SOLAR_OFFSET = (0.9, 1.25)
_SOLAR_KWP = (2.0, 12.0)


def sized_solar_array(
    rng: np.random.Generator, *, load: SyntheticSeries, region: str
) -> SolarArray:
    """An array on a roof pitched 15-35°, sized as installers size them: to make 90-125 % of
    what the home uses in a year (``load``'s mean, over a year) at what such an array
    makes in ``region`` in a typical year, 2-12 kWp."""
    tilt = round(float(rng.uniform(15, 35)))
    performance_ratio = round(float(rng.uniform(0.75, 0.85)), 2)
    hours = np.arange(0, 365 * _DAY, 3600, dtype=np.int64) + int(
        datetime(2025, 1, 1, tzinfo=ZoneInfo("UTC")).timestamp()
    )
    yearly_per_kwp = solar_intervals(
        array=SolarArray(1.0, tilt, performance_ratio),
        region=region,
        starts=hours,
        interval_seconds=3600,
        seed=0,
    ).sum()
    yearly_use = float(load.quantities.mean()) * 365 * _DAY / load.interval_seconds
    kilowatts_peak = yearly_use * rng.uniform(*_SOLAR_OFFSET) / yearly_per_kwp
    return SolarArray(
        kilowatts_peak=round(float(np.clip(kilowatts_peak, *_SOLAR_KWP)), 1),
        tilt_degrees=tilt,
        performance_ratio=performance_ratio,
    )


def net_metered(
    load: SyntheticSeries, generation: np.ndarray
) -> tuple[SyntheticSeries, SyntheticSeries]:
    """What a bidirectional meter records of a home whose array generates ``generation`` (kWh
    in each of ``load``'s intervals): the home uses its own generation first, so per interval
    DELIVERED = max(load - generation, 0) and RECEIVED = max(generation - load, 0), and
    DELIVERED - RECEIVED = load - generation. Both channels have the load's intervals and
    estimated flags (one meter reads both)."""
    if generation.shape != load.quantities.shape:
        raise ValueError("need one generation figure per interval of the load")
    surplus = np.round(generation - load.quantities, load.decimals)
    delivered = dataclasses.replace(load, quantities=np.maximum(-surplus, 0.0))
    received = dataclasses.replace(load, quantities=np.maximum(surplus, 0.0))
    return delivered, received
