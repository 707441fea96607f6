"""HOUR items of the Usage series, rendered once per meter, local day and rollup revision and
shared by every web process through Redis.

A HOUR page holds up to 1,000 items, and rendering one from the rollups is work per row: about
3 us in PostgreSQL (the rollup query) and 3 us in the worker (parsing and rendering). Keeping
HOUR items beside the rollups, as DAY items are (``usage.models.RenderedDay``), would move
that work into every rollup write: about 55 ms a meter-year, 40 % of a full rebuild
(``benchmarks/README.md``). Here a meter's HOUR items are rendered when first read, a local
day at a time, and kept in Redis, so any later page over those days, whatever its range, page
size or page token, is a join of ready JSON: only what is read is paid for.

An entry is one local day of a meter's HOUR items in one direction. Its key names the meter,
its rollup revision (``usage.models.RollupRevision``, bumped by every rollup write) and a hash
of what the items were rendered under (``usage.rendering.day_items_basis``: zone, unit,
interval, channels, currency, ``ITEMS_VERSION``) and the direction: an entry is never served
after the meter's rollups changed, or for another currency, because the key then differs.
Entries expire ``USAGE_HOUR_ITEMS_SECONDS`` after they were written (0 turns them off).
Without ``REDIS_URL``, or while Redis fails (``energygrid.failopen``), pages are rendered from
the rollups on every read.

An entry's bytes: the item count ``n`` (uint32), the items' starts (``n`` int64 epoch
seconds), their offsets in the body (``n + 1`` uint32, each item's end one comma past it) and
the body: the items' JSON (``usage.rendering.item_json``) joined by commas.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import pairwise

import numpy as np
import orjson
from django.conf import settings

from energygrid.failopen import FailOpenRedis
from metadata.catalog import Granularity
from usage.calendar import bucket_bound_epochs
from usage.rendering import day_items_basis, series_items
from usage.selectors import SeriesPage, usage_series_columns

logger = logging.getLogger(__name__)

_HEADER = np.dtype("<u4")
_STARTS = np.dtype("<i8")
_OFFSETS = np.dtype("<u4")
#: More HOUR buckets than the longest HOUR range holds.
_ALL_HOURS = 100_000


@dataclass(frozen=True)
class _Day:
    """One local day's HOUR items: their starts, their offsets in ``body`` and the body."""

    starts: np.ndarray
    offsets: np.ndarray
    body: bytes

    @classmethod
    def of(cls, starts: list[int], items: list[bytes]) -> _Day:
        ends = np.cumsum([len(item) + 1 for item in items], dtype=np.int64)
        offsets = np.concatenate(([0], ends)).astype(_OFFSETS)
        return cls(np.asarray(starts, dtype=_STARTS), offsets, b",".join(items))

    @classmethod
    def decode(cls, data: bytes) -> _Day:
        count = int(np.frombuffer(data, _HEADER, 1)[0])
        at = _HEADER.itemsize
        starts = np.frombuffer(data, _STARTS, count, at)
        at += count * _STARTS.itemsize
        offsets = np.frombuffer(data, _OFFSETS, count + 1, at)
        return cls(starts, offsets, data[at + (count + 1) * _OFFSETS.itemsize :])

    def encode(self) -> bytes:
        count = np.array([len(self.starts)], _HEADER)
        return count.tobytes() + self.starts.tobytes() + self.offsets.tobytes() + self.body

    def json(self, first: int, end: int) -> bytes:
        """The JSON of items ``first`` to ``end`` (exclusive), comma-joined."""
        if first == 0 and end == len(self.starts):
            return self.body
        return self.body[int(self.offsets[first]) : int(self.offsets[end]) - 1]


@cache
def _redis(url: str) -> FailOpenRedis:
    return FailOpenRedis(url, what="The HOUR items cache", logger=logger)


def hour_items_cached(page: SeriesPage) -> bool:
    """Whether ``page`` is served from the HOUR items cache (:func:`hour_items`)."""
    return (
        page.granularity is Granularity.HOUR
        and bool(settings.REDIS_URL)
        and settings.USAGE_HOUR_ITEMS_SECONDS > 0
    )


def hour_items(page: SeriesPage, *, currency: str) -> tuple[list[int], bytes] | None:
    """The starts (UTC epoch seconds) of the first ``page.limit`` HOUR items of ``page`` and
    the JSON of those the page shows, comma-joined (:func:`_page`), from the cache; the days
    it misses are rendered from the rollups and stored first. ``None`` when Redis fails: the
    caller renders the page."""
    meter = page.meter
    low = page.start if page.after is None else page.after
    bounds = bucket_bound_epochs(
        timezone=meter.timezone,
        granularity=Granularity.DAY,
        billing_cycle_day=meter.account.billing_cycle_day,
        start=low,
        end=page.end,
    ).tolist()
    basis = f"{day_items_basis(meter, currency)} {page.direction.name}".encode()
    prefix = (
        f"usage:hours:{meter.pk.hex}:{meter.rollup_revision}:"
        f"{hashlib.blake2b(basis, digest_size=8).hexdigest()}:"
    )
    keys = [f"{prefix}{day}" for day in bounds[:-1]]
    redis = _redis(settings.REDIS_URL)
    stored = redis.run(lambda client: client.mget(keys))
    if stored is None:
        return None
    days = [None if data is None else _Day.decode(data) for data in stored]
    missing = [index for index, day in enumerate(days) if day is None]
    if missing:
        first, last = missing[0], missing[-1] + 1
        rendered = _render(page, currency, bounds[first : last + 1])
        days[first:last] = rendered
        if redis.run(lambda client: _store(client, keys[first:last], rendered)) is None:
            return None
    return _page(page, days)


def _render(page: SeriesPage, currency: str, bounds: list[int]) -> list[_Day]:
    """The HOUR items of the local days between ``bounds``, rendered from the rollups."""
    span = SeriesPage(
        meter=page.meter,
        granularity=Granularity.HOUR,
        start=datetime.fromtimestamp(bounds[0], UTC),
        end=datetime.fromtimestamp(bounds[-1], UTC),
        after=None,
        limit=_ALL_HOURS,
        direction=page.direction,
    )
    columns = usage_series_columns(span, currency=currency)
    items = [orjson.dumps(item) for item in series_items(columns, meter=page.meter)]
    starts = list(columns.starts)
    cuts = np.searchsorted(np.asarray(starts, dtype=_STARTS), bounds).tolist()
    return [_Day.of(starts[low:high], items[low:high]) for low, high in pairwise(cuts)]


def _store(client, keys: list[str], days: list[_Day]) -> list:
    pipeline = client.pipeline(transaction=False)
    for key, day in zip(keys, days, strict=True):
        pipeline.set(key, day.encode(), ex=settings.USAGE_HOUR_ITEMS_SECONDS)
    return pipeline.execute()


def _page(page: SeriesPage, days: list[_Day]) -> tuple[list[int], bytes]:
    """The starts of the page's first ``page.limit`` items in ``days`` and the JSON of those
    the page shows (at most ``page.limit - 1``)."""
    low = int(page.start.timestamp())
    after = None if page.after is None else int(page.after.timestamp())
    high = int(page.end.timestamp())
    shown: list[tuple[_Day, int, int]] = []
    starts: list[int] = []
    for day in days:
        if after is None:
            first = int(np.searchsorted(day.starts, low))
        else:
            first = int(np.searchsorted(day.starts, after, "right"))
        end = min(int(np.searchsorted(day.starts, high)), first + page.limit - len(starts))
        if end > first:
            shown.append((day, first, end))
            starts += day.starts[first:end].tolist()
            if len(starts) == page.limit:
                day, first, end = shown.pop()
                shown.append((day, first, end - 1))
                break
    return starts, b",".join(day.json(first, end) for day, first, end in shown if end > first)
