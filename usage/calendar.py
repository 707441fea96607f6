"""Bucket boundaries in a meter's local calendar: pure Python (zoneinfo), no database.

One definition of "which bucket is this instant in" for every part of the product: the rollup
workers aggregate readings into exactly these buckets, and the API widens a requested range to
them and buckets FIFTEEN_MINUTE data with them, so a rollup row and a live computation can
never disagree.

The rules:

* DAY, WEEK, MONTH, BILLING_PERIOD follow the local *date* of an instant. A bucket starts at
  the first instant whose local date is its first date: local midnight, or the end of the DST
  gap when midnight does not exist that day. So a day is 23 h on spring-forward and 25 h on
  fall-back; weeks start on Monday (ISO); a billing period starts on the account's cycle day,
  clamped to the month's last day (cycle day 31 starts on 28/29 February and 30 April).
* HOUR and FIFTEEN_MINUTE follow the local wall clock *and* the UTC offset: a bucket is one
  local hour (quarter) at one offset. In +05:30 zones hours start at :30 UTC; on fall-back
  the repeated local hour is two buckets; where a transition cuts a local hour (30-minute DST in
  Australia/Lord_Howe), the pieces on either side are buckets of their own.

Every function takes timezone-aware datetimes and returns UTC ones: arithmetic on datetimes
that share a ZoneInfo is wall-clock arithmetic in Python (a 23-hour day would subtract to 24 h),
so boundaries stay UTC until rendered with ``.astimezone(zone(meter.timezone))``.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from metadata.catalog import Granularity

if TYPE_CHECKING:
    from customers.models import Meter

_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_SECONDS = 86_400

#: The instants a usage range may name (docs/api.md "Supported dates"). Far wider than any meter
#: data, and far enough inside Python's years 1-9999 that widening to whole buckets, the days
#: just before a range and the same dates a year earlier are always representable.
SUPPORTED_START = datetime(1900, 1, 1, tzinfo=UTC)
SUPPORTED_END = datetime(2200, 1, 1, tzinfo=UTC)


def is_supported(instant: datetime) -> bool:
    """Whether ``instant`` (timezone-aware) lies in ``[SUPPORTED_START, SUPPORTED_END]``."""
    return SUPPORTED_START <= _aware(instant) <= SUPPORTED_END


def is_supported_date(day: date) -> bool:
    """Whether local date ``day`` is one whose midnight can be computed in any timezone."""
    return SUPPORTED_START.date() <= day <= SUPPORTED_END.date()


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant!r} has no UTC offset")
    return instant


def _offset(tz: ZoneInfo, instant: datetime) -> timedelta:
    return instant.astimezone(tz).utcoffset()  # type: ignore[return-value]


def _first_instant_with_offset(
    tz: ZoneInfo, low: datetime, high: datetime, offset: timedelta
) -> datetime:
    """The earliest instant in ``(low, high]`` from which ``tz``'s offset is ``offset``.

    Assumes one transition in the span (true for any span under a few hours); transitions
    fall on whole seconds, so a binary search over seconds finds it exactly.
    """
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(tz, datetime.fromtimestamp(mid, UTC)) == offset:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


# --- calendar buckets (by local date) -----------------------------------------------------


@lru_cache(maxsize=16384)
def local_date_start(tz: ZoneInfo, day: date) -> datetime:
    """The first instant whose local date is ``day`` (UTC).

    Local midnight when it exists (the first one when it happens twice); when a DST gap
    swallows midnight, the instant the gap ends. Cached: a rebuild asks for the same days of
    each zone once per meter and calendar granularity (46,000 calls for 90 meter-years).
    """
    wall = datetime.combine(day, time(0))
    earlier = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    later = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    for candidate in sorted({earlier, later}):
        if candidate.astimezone(tz).replace(tzinfo=None) == wall:
            return candidate
    # Midnight falls in a gap: the day begins when the clock jumps past it.
    low, high = min(earlier, later), max(earlier, later)
    return _first_instant_with_offset(tz, low, high, _offset(tz, high))


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, _stdlib_calendar.monthrange(year, month)[1]))


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _calendar_first_date(granularity: Granularity, cycle_day: int, day: date) -> date:
    """The first local date of the calendar bucket holding local date ``day``."""
    if granularity is Granularity.DAY:
        return day
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    if granularity is Granularity.MONTH:
        return day.replace(day=1)
    this_month = _clamped(day.year, day.month, cycle_day)
    if this_month <= day:
        return this_month
    year, month = _add_months(day.year, day.month, -1)
    return _clamped(year, month, cycle_day)


def _calendar_next_date(granularity: Granularity, cycle_day: int, first: date) -> date:
    """The first local date of the bucket after the one starting on ``first``."""
    if granularity is Granularity.DAY:
        return first + timedelta(days=1)
    if granularity is Granularity.WEEK:
        return first + timedelta(days=7)
    year, month = _add_months(first.year, first.month, 1)
    if granularity is Granularity.MONTH:
        return date(year, month, 1)
    return _clamped(year, month, cycle_day)


def _calendar_previous_date(granularity: Granularity, cycle_day: int, first: date) -> date:
    return _calendar_first_date(granularity, cycle_day, first - timedelta(days=1))


# --- clock buckets (by local wall clock and offset) -----------------------------------------


def _epoch_seconds(instant: datetime) -> int:
    """Whole seconds since 1970 at or before ``instant`` (boundaries fall on whole seconds)."""
    return (_aware(instant) - _EPOCH) // _SECOND


def _clock_bound_epochs(tz: ZoneInfo, seconds: int, start: datetime, end: datetime) -> np.ndarray:
    """Boundaries (UTC epoch seconds) of the clock buckets of ``seconds`` covering ``[start,
    end)``, built with numpy.

    Between two offset transitions the boundaries are the instants whose local wall clock is a
    multiple of ``seconds``: every ``seconds`` from the first of them. Each transition is one
    too, so a repeated local hour is two buckets and an hour a transition cuts is two pieces.
    zoneinfo is asked once per process and UTC year (:func:`_offset_spans`), not per bucket.
    """
    first, last = _epoch_seconds(start), -((_EPOCH - _aware(end)) // _SECOND)  # floor, ceiling
    lo, hi = first - seconds, last + seconds
    transitions, offsets = _offset_spans(tz, lo, hi)
    edges = [lo, *(int(t) for t in transitions if lo < t < hi), hi]
    pieces = [np.array(edges[1:-1], dtype=np.int64)]
    spans_offsets = offsets[np.searchsorted(transitions, edges[:-1], side="right")]
    for span_lo, span_hi, offset in zip(edges, edges[1:], spans_offsets, strict=False):
        # The first instant of the span whose local time (epoch + offset) is on the grid.
        grid = span_lo + (-(span_lo + int(offset))) % seconds
        pieces.append(np.arange(grid, span_hi, seconds, dtype=np.int64))
    bounds = np.sort(np.concatenate(pieces))
    bounds = bounds[np.concatenate(([True], bounds[1:] != bounds[:-1]))]  # a transition on the grid
    floor = np.searchsorted(bounds, first, side="right") - 1
    ceiling = np.searchsorted(bounds, last, side="left")
    return bounds[floor : ceiling + 1]


# --- public API ------------------------------------------------------------------------------


def _clock_seconds(granularity: Granularity) -> int | None:
    return None if granularity.calendar else granularity.value.nominal_seconds


def bucket_start(
    *, timezone: str, granularity: Granularity, billing_cycle_day: int, instant: datetime
) -> datetime:
    """Start (UTC) of the bucket holding ``instant`` in ``timezone``'s calendar."""
    tz = zone(timezone)
    instant = _aware(instant)
    seconds = _clock_seconds(granularity)
    if seconds is not None:
        floor = _clock_bound_epochs(tz, seconds, instant, instant + timedelta(microseconds=1))[0]
        return datetime.fromtimestamp(int(floor), UTC)
    first = _calendar_first_date(granularity, billing_cycle_day, instant.astimezone(tz).date())
    start = local_date_start(tz, first)
    # Local dates can run backwards across a fall-back over midnight; step until it holds.
    while start > instant:
        first = _calendar_previous_date(granularity, billing_cycle_day, first)
        start = local_date_start(tz, first)
    while local_date_start(tz, _calendar_next_date(granularity, billing_cycle_day, first)) <= (
        instant
    ):
        first = _calendar_next_date(granularity, billing_cycle_day, first)
        start = local_date_start(tz, first)
    return start


def bucket_bounds(
    *,
    timezone: str,
    granularity: Granularity,
    billing_cycle_day: int,
    start: datetime,
    end: datetime,
) -> list[datetime]:
    """Boundaries ``b0 <= start < b1 < ... < bn >= end`` of the buckets covering ``[start, end)``.

    The range is widened to whole buckets (start rounded down, end rounded up); bucket ``i`` is
    ``[b[i], b[i+1])``. Boundaries are UTC datetimes.
    """
    tz = zone(timezone)
    start, end = _aware(start), _aware(end)
    if not start < end:
        raise ValueError("start must be before end")
    seconds = _clock_seconds(granularity)
    if seconds is not None:
        return [
            datetime.fromtimestamp(epoch, UTC)
            for epoch in _clock_bound_epochs(tz, seconds, start, end).tolist()
        ]
    bounds = [
        bucket_start(
            timezone=timezone,
            granularity=granularity,
            billing_cycle_day=billing_cycle_day,
            instant=start,
        ).astimezone(UTC)
    ]
    first = bounds[0].astimezone(tz).date()
    first = _calendar_first_date(granularity, billing_cycle_day, first)
    while bounds[-1] < end:
        first = _calendar_next_date(granularity, billing_cycle_day, first)
        bounds.append(local_date_start(tz, first))
    return bounds


def bucket_bound_epochs(
    *,
    timezone: str,
    granularity: Granularity,
    billing_cycle_day: int,
    start: datetime,
    end: datetime,
) -> np.ndarray:
    """:func:`bucket_bounds` as UTC epoch seconds (int64), the form set-based code takes: HOUR
    and FIFTEEN_MINUTE are built by numpy without a datetime per boundary."""
    seconds = _clock_seconds(granularity)
    if seconds is None:
        bounds = bucket_bounds(
            timezone=timezone,
            granularity=granularity,
            billing_cycle_day=billing_cycle_day,
            start=start,
            end=end,
        )
        return np.array([_epoch_seconds(bound) for bound in bounds], dtype=np.int64)
    if not start < end:
        raise ValueError("start must be before end")
    return _clock_bound_epochs(zone(timezone), seconds, start, end)


def meter_bucket_bounds(
    meter: Meter, granularity: Granularity, start: datetime, end: datetime
) -> list[datetime]:
    """``bucket_bounds`` for a meter: its timezone and its account's billing cycle day."""
    return bucket_bounds(
        timezone=meter.timezone,
        granularity=granularity,
        billing_cycle_day=meter.account.billing_cycle_day,
        start=start,
        end=end,
    )


def meter_bucket_range(
    meter, granularity: Granularity, start: datetime, end: datetime
) -> tuple[datetime, datetime]:
    """``[start, end)`` widened to whole buckets of the meter's calendar: the first and last
    boundaries of :func:`meter_bucket_bounds`, without computing the ones in between."""
    tick = timedelta(microseconds=1)
    first = meter_bucket_bounds(meter, granularity, start, start + tick)[0]
    last = meter_bucket_bounds(meter, granularity, end - tick, end)[-1]
    return first, last


def utc_offsets(epochs: np.ndarray, tz: str | ZoneInfo) -> np.ndarray:
    """UTC offset (s) of ``tz`` at each UTC epoch second, vectorised: every epoch is mapped
    with ``searchsorted`` over the zone's transitions in the UTC years it spans, found once
    per process and year (:func:`_offset_spans`)."""
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    epochs = np.asarray(epochs, dtype=np.int64)
    if epochs.size == 0:
        return np.zeros(0, dtype=np.int64)
    transitions, offsets = _offset_spans(tzinfo, int(epochs.min()), int(epochs.max()))
    return offsets[np.searchsorted(transitions, epochs, side="right")]


def _offset_spans(tzinfo: ZoneInfo, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """``tzinfo``'s offset changes in the UTC years holding epoch seconds ``lo`` to ``hi``: the
    instants it changes at (ascending), and the offsets: the first year's first, then the one
    from each instant on. ``offsets[searchsorted(transitions, t, side="right")]`` is the
    offset at any ``t`` in those years."""
    first, last = (datetime.fromtimestamp(edge, UTC).year for edge in (lo, hi))
    years = [_year_transitions(tzinfo, year) for year in range(first, last + 1)]
    transitions = np.concatenate([instants for instants, _ in years])
    offsets = np.concatenate([years[0][1][:1], *(offsets[1:] for _, offsets in years)])
    return transitions, offsets


@lru_cache(maxsize=4096)
def _year_transitions(tzinfo: ZoneInfo, year: int) -> tuple[np.ndarray, np.ndarray]:
    """The instants (epoch s) in UTC ``year`` at which ``tzinfo``'s offset changes, and the
    offsets: the year's first, then the one from each instant on.

    zoneinfo is asked at each UTC midnight of the year; where the offset changes between two
    midnights the instant is found by bisection. Assumes at most one transition per day, which
    holds for real zones.
    """
    first = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    days = 366 if _stdlib_calendar.isleap(year) else 365
    probes = first + np.arange(days + 1, dtype=np.int64) * _DAY_SECONDS
    probe_offsets = np.array([_epoch_offset(tzinfo, int(t)) for t in probes], dtype=np.int64)
    changes = np.flatnonzero(probe_offsets[1:] != probe_offsets[:-1])
    transitions = np.empty(changes.size, dtype=np.int64)
    for k, c in enumerate(changes):
        before, after = int(probes[c]), int(probes[c + 1])
        while after - before > 1:
            middle = (before + after) // 2
            if _epoch_offset(tzinfo, middle) == probe_offsets[c]:
                before = middle
            else:
                after = middle
        transitions[k] = after
    return transitions, np.concatenate([probe_offsets[:1], probe_offsets[changes + 1]])


def _epoch_offset(tzinfo: ZoneInfo, epoch: int) -> int:
    return int(datetime.fromtimestamp(epoch, tzinfo).utcoffset().total_seconds())


def local_isoformats(epochs: Sequence[int], tz: str) -> list[str]:
    """RFC 3339 local times with offset (``datetime.isoformat`` of each instant in ``tz``).

    Each instant is formatted once per process and zone (:data:`_ISOFORMATS`): every meter of a
    zone shares its local midnights and hours, so a page's timestamps are dictionary lookups,
    and numpy formats the ones not seen yet (each distinct UTC offset once). The memo of a
    zone is emptied when it reaches :data:`ISOFORMATS_PER_ZONE` entries.
    """
    texts = _ISOFORMATS.setdefault(tz, {})
    try:
        return [texts[epoch] for epoch in epochs]
    except KeyError:
        formatted = _format_local(np.asarray(epochs, dtype=np.int64), tz)
        fresh = dict(zip(epochs, formatted, strict=True))
        if len(texts) + len(fresh) > ISOFORMATS_PER_ZONE:
            texts.clear()
        texts.update(fresh)
        return formatted


#: Bound of a zone's memo of formatted instants: 20 years of hours (about 30 MB).
ISOFORMATS_PER_ZONE = 175_000
#: Formatted instants by zone and UTC epoch second.
_ISOFORMATS: dict[str, dict[int, str]] = {}


def _format_local(epochs: np.ndarray, tz: str) -> list[str]:
    if epochs.size == 0:
        return []
    offsets = utc_offsets(epochs, tz)
    walls = np.datetime_as_string((epochs + offsets).astype("datetime64[s]"), unit="s")
    distinct, which = np.unique(offsets, return_inverse=True)
    suffixes = np.array([_offset_suffix(int(seconds)) for seconds in distinct])
    return np.char.add(walls, suffixes[which]).tolist()


def _offset_suffix(seconds: int) -> str:
    """``+05:30`` for 19800 s, as ``datetime.isoformat`` writes it (seconds only when any)."""
    fixed = timezone(timedelta(seconds=seconds))
    return datetime(2000, 1, 1, tzinfo=fixed).isoformat()[len("2000-01-01T00:00:00") :]
