"""usage.calendar: local-calendar bucket boundaries across DST and odd offsets (pure Python)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metadata.catalog import Granularity
from usage import calendar
from usage.calendar import (
    bucket_bounds,
    bucket_start,
    local_date_start,
    local_isoformats,
    zone,
)

ZONES = [
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Europe/London",
    "America/Santiago",
    "America/Havana",
    "Asia/Kathmandu",
    "UTC",
]
HOUR = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def bounds(tz: str, granularity: Granularity, start: datetime, end: datetime, cycle_day: int = 1):
    return bucket_bounds(
        timezone=tz, granularity=granularity, billing_cycle_day=cycle_day, start=start, end=end
    )


def local(instant: datetime, tz: str) -> str:
    return instant.astimezone(zone(tz)).isoformat()


def lengths(boundaries: list[datetime]) -> list[timedelta]:
    return [b - a for a, b in itertools.pairwise(boundaries)]


def test_new_york_dst_start_day_is_23_hours_and_dst_end_day_25():
    spring = bounds("America/New_York", Granularity.DAY, utc(2026, 3, 8, 12), utc(2026, 3, 8, 13))
    fall = bounds("America/New_York", Granularity.DAY, utc(2026, 11, 1, 12), utc(2026, 11, 1, 13))

    assert [local(b, "America/New_York") for b in spring] == [
        "2026-03-08T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00",
    ]
    assert lengths(spring) == [23 * HOUR]
    assert [local(b, "America/New_York") for b in fall] == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-02T00:00:00-05:00",
    ]
    assert lengths(fall) == [25 * HOUR]


def test_the_repeated_fall_back_hour_is_two_hour_buckets():
    hours = bounds("America/New_York", Granularity.HOUR, utc(2026, 11, 1, 4), utc(2026, 11, 1, 8))

    assert [local(b, "America/New_York") for b in hours] == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
        "2026-11-01T03:00:00-05:00",
    ]
    assert lengths(hours) == [HOUR] * 4


def test_hours_in_half_hour_zones_start_at_half_past_utc():
    hours = bounds("Asia/Kolkata", Granularity.HOUR, utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 2))

    assert hours == [
        utc(2025, 12, 31, 23, 30),
        utc(2026, 1, 1, 0, 30),
        utc(2026, 1, 1, 1, 30),
        utc(2026, 1, 1, 2, 30),
    ]


def test_lord_howe_half_hour_dst_splits_an_hour_and_makes_a_24_5_hour_day():
    tz = "Australia/Lord_Howe"  # 2026-04-05 02:00 +11:00 -> 01:30 +10:30
    hours = bounds(tz, Granularity.HOUR, utc(2026, 4, 4, 14), utc(2026, 4, 4, 16, 30))
    day = bounds(tz, Granularity.DAY, utc(2026, 4, 4, 20), utc(2026, 4, 4, 21))

    assert [local(b, tz) for b in hours] == [
        "2026-04-05T01:00:00+11:00",
        "2026-04-05T01:30:00+10:30",
        "2026-04-05T02:00:00+10:30",
        "2026-04-05T03:00:00+10:30",
    ]
    assert lengths(hours) == [HOUR, HOUR / 2, HOUR]
    assert lengths(day) == [timedelta(hours=24, minutes=30)]


def test_a_day_whose_midnight_does_not_exist_starts_when_the_gap_ends():
    tz = "America/Havana"  # 2026-03-08 00:00 -05:00 jumps to 01:00 -04:00
    days = bounds(tz, Granularity.DAY, utc(2026, 3, 8, 12), utc(2026, 3, 9, 12))

    assert [local(b, tz) for b in days] == [
        "2026-03-08T01:00:00-04:00",
        "2026-03-09T00:00:00-04:00",
        "2026-03-10T00:00:00-04:00",
    ]
    assert local_date_start(zone(tz), date(2026, 3, 8)) == utc(2026, 3, 8, 5)


def test_weeks_start_on_monday_and_months_on_the_first():
    tz = "America/New_York"
    weeks = bounds(tz, Granularity.WEEK, utc(2026, 3, 4), utc(2026, 3, 12))
    months = bounds(tz, Granularity.MONTH, utc(2026, 2, 14), utc(2026, 3, 14))

    assert [local(b, tz) for b in weeks] == [
        "2026-03-02T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00",
        "2026-03-16T00:00:00-04:00",
    ]
    assert lengths(weeks) == [7 * 24 * HOUR - HOUR, 7 * 24 * HOUR]
    assert [local(b, tz) for b in months] == [
        "2026-02-01T00:00:00-05:00",
        "2026-03-01T00:00:00-05:00",
        "2026-04-01T00:00:00-04:00",
    ]


@pytest.mark.parametrize(
    ("cycle_day", "expected"),
    [
        (5, ["2026-01-05", "2026-02-05", "2026-03-05", "2026-04-05", "2026-05-05"]),
        (31, ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]),
        (29, ["2026-01-29", "2026-02-28", "2026-03-29", "2026-04-29"]),
    ],
)
def test_billing_periods_start_on_the_cycle_day_clamped_to_the_month(cycle_day, expected):
    tz = "America/New_York"
    periods = bounds(
        tz, Granularity.BILLING_PERIOD, utc(2026, 1, 31, 12), utc(2026, 4, 10), cycle_day
    )

    assert [b.astimezone(zone(tz)).date().isoformat() for b in periods] == expected
    assert all(b.astimezone(zone(tz)).time() == time(0) for b in periods)


def test_boundaries_are_utc_and_the_range_is_widened_not_clipped():
    edges = bounds("Europe/London", Granularity.DAY, utc(2026, 6, 1), utc(2026, 6, 3))

    assert all(b.tzinfo is UTC for b in edges)
    assert edges == [
        utc(2026, 5, 31, 23),
        utc(2026, 6, 1, 23),
        utc(2026, 6, 2, 23),
        utc(2026, 6, 3, 23),
    ]
    with pytest.raises(ValueError, match="start must be before end"):
        bounds("UTC", Granularity.DAY, utc(2026, 1, 2), utc(2026, 1, 1))


# Ranges clustered around DST transitions (and plain days) in the zones above.
ANCHORS = [
    utc(2026, 3, 8, 6),
    utc(2026, 11, 1, 5),
    utc(2026, 4, 4, 15),
    utc(2026, 10, 3, 15),
    utc(2026, 4, 4, 13),
    utc(2026, 9, 26, 14),
    utc(2026, 3, 29, 1),
    utc(2026, 10, 25, 1),
    utc(2026, 9, 6, 4),
    utc(2026, 4, 5, 3),
    utc(2026, 3, 8, 5),
    utc(2024, 2, 29, 12),
    utc(2025, 7, 15),
]
GRANULARITIES = list(Granularity)
_SHORTEST = {
    Granularity.FIFTEEN_MINUTE: timedelta(minutes=15),
    Granularity.HOUR: timedelta(hours=1),
    Granularity.DAY: timedelta(hours=24),
    Granularity.WEEK: timedelta(days=7),
    Granularity.MONTH: timedelta(days=28),
    Granularity.BILLING_PERIOD: timedelta(days=28),
}
_LONGEST = {
    Granularity.FIFTEEN_MINUTE: timedelta(minutes=15),
    Granularity.HOUR: timedelta(hours=1),
    Granularity.DAY: timedelta(hours=24),
    Granularity.WEEK: timedelta(days=7),
    Granularity.MONTH: timedelta(days=31),
    Granularity.BILLING_PERIOD: timedelta(days=31),
}


@settings(max_examples=40, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    granularity=st.sampled_from(GRANULARITIES),
    cycle_day=st.integers(1, 31),
    anchor=st.sampled_from(ANCHORS),
    shift=st.integers(-3 * 86400, 3 * 86400),
    span=st.integers(1, 4 * 86400),
)
def test_buckets_partition_any_range(tz, granularity, cycle_day, anchor, shift, span):
    start = anchor + timedelta(seconds=shift)
    end = start + timedelta(seconds=span)
    if granularity in (Granularity.MONTH, Granularity.BILLING_PERIOD, Granularity.WEEK):
        end = start + timedelta(seconds=span * 20)
    edges = bounds(tz, granularity, start, end, cycle_day)

    # Contiguous, strictly increasing, covering [start, end) and not one bucket more.
    assert edges[0] <= start < edges[1] and edges[-2] < end <= edges[-1]
    assert all(a < b for a, b in itertools.pairwise(edges))
    # Each is a whole bucket: its start is where any instant inside it floors to.
    for a, b in itertools.pairwise(edges):
        for inside in (a, a + (b - a) / 2, b - timedelta(microseconds=1)):
            floor = bucket_start(
                timezone=tz, granularity=granularity, billing_cycle_day=cycle_day, instant=inside
            )
            assert floor == a
        # Real length: the nominal one give or take the DST shift (at most an hour).
        assert _SHORTEST[granularity] - HOUR <= b - a <= _LONGEST[granularity] + HOUR
        local_start = a.astimezone(zone(tz))
        if granularity.calendar and local_start.time() != time(0):
            # Only where a DST gap swallowed midnight: the instant before is the previous day.
            assert (a - timedelta(seconds=1)).astimezone(zone(tz)).date() < local_start.date()
        if granularity is Granularity.WEEK:
            assert local_start.isoweekday() == 1
        if granularity is Granularity.MONTH:
            assert local_start.day == 1
        if not granularity.calendar:
            seconds = granularity.value.nominal_seconds
            wall = local_start.hour * 3600 + local_start.minute * 60
            # On the local grid, unless a transition cut the local hour/quarter here.
            offset_changed = (a - timedelta(seconds=1)).astimezone(zone(tz)).utcoffset() != (
                local_start.utcoffset()
            )
            assert wall % seconds == 0 or offset_changed


@pytest.mark.parametrize(
    "tz",
    ["America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "UTC"],
)
def test_local_isoformats_match_datetime_isoformat(tz):
    """Bulk formatting (one suffix per distinct offset) writes what isoformat() writes, across
    DST transitions, half- and quarter-hour offsets, and seconds offsets (1880: LMT)."""
    epochs = sorted(
        {-2_840_140_800, *range(1_704_067_200, 1_798_761_600, 3_599 * 7)}  # 1880-01-01, 2024-26
    )
    expected = [datetime.fromtimestamp(epoch, ZoneInfo(tz)).isoformat() for epoch in epochs]

    assert local_isoformats(epochs, tz) == expected


def test_local_isoformats_memo_answers_the_same_and_stays_bounded(monkeypatch):
    """Instants seen before come from the per-zone memo; a memo at its bound is emptied."""
    tz = "Australia/Lord_Howe"  # 30-minute DST: 2024-04-07 02:00 +11:00 -> 01:30 +10:30
    epochs = list(range(1_712_400_000, 1_712_400_000 + 2 * 86_400, 1_800))
    expected = [datetime.fromtimestamp(epoch, ZoneInfo(tz)).isoformat() for epoch in epochs]

    assert local_isoformats(epochs, tz) == expected
    assert local_isoformats(epochs[::-1], tz) == expected[::-1]

    monkeypatch.setattr(calendar, "ISOFORMATS_PER_ZONE", len(epochs) + 1)
    later = [epochs[-1] + 1_800, epochs[-1] + 3_600]
    assert local_isoformats(later, tz) == [
        datetime.fromtimestamp(epoch, ZoneInfo(tz)).isoformat() for epoch in later
    ]
    assert len(calendar._ISOFORMATS[tz]) == len(later)


def test_local_isoformats_of_nothing_is_nothing():
    assert local_isoformats([], "America/New_York") == []


@settings(max_examples=30, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    granularity=st.sampled_from([Granularity.HOUR, Granularity.FIFTEEN_MINUTE]),
    anchor=st.sampled_from(ANCHORS),
    shift=st.integers(-2 * 86400, 2 * 86400),
    span=st.integers(1, 2 * 86400),
)
def test_clock_boundaries_are_the_grid_and_the_transitions_minute_by_minute(
    tz, granularity, anchor, shift, span
):
    """HOUR and FIFTEEN_MINUTE boundaries (built per offset span with numpy) are exactly the
    instants where the local wall clock is on the grid or the offset changes, found here by
    asking zoneinfo about every minute (every transition of these zones is on a minute)."""
    start = anchor + timedelta(seconds=shift)
    end = start + timedelta(seconds=span)
    seconds = granularity.value.nominal_seconds
    minute = timedelta(minutes=1)
    first = start.replace(second=0, microsecond=0) - 2 * HOUR
    expected = []
    instant = first
    while not expected or expected[-1] < end:
        offset = instant.astimezone(zone(tz)).utcoffset()
        wall = (instant + offset).timestamp()
        if wall % seconds == 0 or offset != (instant - minute).astimezone(zone(tz)).utcoffset():
            expected.append(instant)
        instant += minute
    expected = expected[max(i for i, b in enumerate(expected) if b <= start) :]

    assert bounds(tz, granularity, start, end) == expected
