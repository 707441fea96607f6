"""HOUR items of the Usage series, rendered once per meter, local month and rollup revision
and shared by every web process through Redis.

A HOUR page holds up to 1,000 items, and rendering one from the rollups is work per row: about
3 us in PostgreSQL (the rollup query) and 3 us in the worker (parsing and rendering). Keeping
HOUR items beside the rollups, as DAY items are (``usage.models.RenderedDay``), would move
that work into every rollup write: about 55 ms a meter-year, 40 % of a full rebuild
(``benchmarks/README.md``). Here a meter's HOUR items are rendered when first read, a local
calendar month at a time, and kept in Redis, so any later page over those months, whatever its
range, page size or page token, is a join of ready JSON: only what is read is paid for. A
month a key: a page of a month's hours reads two entries, not thirty-one (each key costs the
worker more than the bytes it holds).

An entry is one local month of a meter's HOUR items in one direction. Its key names the meter,
a hash of what the items were rendered under (``usage.rendering.day_items_basis``: zone, unit,
interval, channels, currency, ``ITEMS_VERSION``) and the direction, and the month: an entry is
never served for another currency, because the key then differs. The entry holds the meter's
rollup revision it was rendered at (``usage.models.RollupRevision``, bumped by every rollup
write): one of another revision is a miss, rendered again over the same key, so a meter keeps
one entry per month and direction however often its rollups change. Entries expire
``USAGE_HOUR_ITEMS_SECONDS`` after they were written (0 turns them off). Without
``REDIS_URL``, or while Redis is unreachable (``energygrid.failopen``), pages are rendered from
the rollups on every read.

An entry's bytes, in the machine's byte order: the rollup revision and the item count ``n``
(uint64 each), the items' starts (``n`` int64 epoch seconds), their offsets in the body
(``n + 1`` uint32, each item's end one comma past it) and the body: the items' JSON
(``usage.rendering.item_json``) joined by commas. Keys carry :data:`_LAYOUT`; bytes that do not
hold an entry are a miss, rendered again.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING

import orjson
from django.conf import settings

from energygrid.failopen import FailOpenRedis
from metadata.catalog import Granularity
from usage.calendar import bucket_bound_epochs
from usage.rendering import SeriesColumns, day_items_basis, series_items

if TYPE_CHECKING:
    from usage.selectors import SeriesPage

logger = logging.getLogger(__name__)

#: The entries' byte layout, part of their keys: a process writing another layout (during a
#: rolling deploy) never reads or overwrites this one's.
_LAYOUT = "v3"
#: An entry's rollup revision and item count (8 bytes each, so the starts that follow are
#: aligned).
_HEADER = struct.Struct("=QQ")
#: More HOUR buckets than the longest HOUR range holds.
_ALL_HOURS = 100_000
#: The fewest hours a local month has (a February): a page of ``limit`` items that starts
#: inside a month ends within ``1 + ceil(limit / _FEWEST_HOURS)`` months unless hours are missing.
_FEWEST_HOURS = 28 * 24


@dataclass(frozen=True)
class _Month:
    """One local month's HOUR items at a rollup revision: their starts, their offsets in
    ``body`` and the body (decoded as views of the entry's bytes, nothing copied)."""

    revision: int
    starts: Sequence[int]
    offsets: Sequence[int]
    body: bytes | memoryview

    @classmethod
    def of(cls, revision: int, starts: Sequence[int], items: list[bytes]) -> _Month:
        offsets = array("I", [0])
        for item in items:
            offsets.append(offsets[-1] + len(item) + 1)
        return cls(revision, array("q", starts), offsets, b",".join(items))

    @classmethod
    def decode(cls, data: bytes) -> _Month | None:
        """The entry ``data`` holds, or ``None`` when its sizes do not add up."""
        if len(data) < _HEADER.size:
            return None
        revision, count = _HEADER.unpack_from(data)
        offsets_at = _HEADER.size + 8 * count
        body_at = offsets_at + 4 * (count + 1)
        if body_at > len(data):
            return None
        view = memoryview(data)
        offsets = view[offsets_at:body_at].cast("I")
        if body_at + max(offsets[-1] - 1, 0) != len(data):
            return None
        return cls(revision, view[_HEADER.size : offsets_at].cast("q"), offsets, view[body_at:])

    def encode(self) -> bytes:
        return b"".join(
            (
                _HEADER.pack(self.revision, len(self.starts)),
                memoryview(self.starts).tobytes(),
                memoryview(self.offsets).tobytes(),
                self.body,
            )
        )

    def json(self, first: int, end: int) -> bytes | memoryview:
        """The JSON of items ``first`` to ``end`` (exclusive), comma-joined."""
        if first == 0 and end == len(self.starts):
            return self.body
        return self.body[self.offsets[first] : self.offsets[end] - 1]


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


def hour_items(
    page: SeriesPage, *, currency: str, render: Callable[[SeriesPage], SeriesColumns]
) -> tuple[list[int], bytes] | None:
    """The starts (UTC epoch seconds) of the first ``page.limit`` HOUR items of ``page`` and
    the JSON of those the page shows, comma-joined (:class:`_Taken`), from the cache. Months
    are fetched a page's worth at a time; those missing are rendered from the rollups
    (``render``, the selector's columns of a page: ``usage.selectors.usage_series_columns``)
    and stored. ``None`` when Redis fails on the fetch: the caller renders the page."""
    meter = page.meter
    taken = _Taken(page)
    if taken.low >= taken.high:  # a token from before the meter's zone changed may lie past it
        return taken.result()
    bounds = bucket_bound_epochs(
        timezone=meter.timezone,
        granularity=Granularity.MONTH,
        billing_cycle_day=meter.account.billing_cycle_day,
        start=datetime.fromtimestamp(taken.low, UTC),
        end=page.end,
    ).tolist()
    basis = f"{day_items_basis(meter, currency)} {page.direction.name}".encode()
    prefix = (
        f"usage:hours:{_LAYOUT}:{meter.pk.hex}:{hashlib.blake2b(basis, digest_size=8).hexdigest()}:"
    )
    redis = _redis(settings.REDIS_URL)
    batch = 1 + -(-page.limit // _FEWEST_HOURS)
    for first in range(0, len(bounds) - 1, batch):
        batch_bounds = bounds[first : first + batch + 1]
        keys = [f"{prefix}{month}" for month in batch_bounds[:-1]]
        months = _months(redis, keys, batch_bounds, page, render)
        if months is None:
            return None
        for month in months:
            if taken.take(month):
                return taken.result()
    return taken.result()


def _months(
    redis: FailOpenRedis,
    keys: list[str],
    bounds: list[int],
    page: SeriesPage,
    render: Callable[[SeriesPage], SeriesColumns],
) -> list[_Month] | None:
    """The months of ``keys`` (starting at ``bounds``) at the meter's rollup revision: those
    kept, and those missing rendered from the rollups between the first and the last of them
    and stored (when storing fails, the rendered months still serve this page)."""
    stored = redis.run(lambda client: client.mget(keys))
    if stored is None:
        return None
    revision = page.meter.rollup_revision
    months = [None if data is None else _Month.decode(data) for data in stored]
    missing = [
        index for index, month in enumerate(months) if month is None or month.revision != revision
    ]
    if missing:
        first, last = missing[0], missing[-1] + 1
        rendered = _render(page, revision, bounds[first : last + 1], render)
        months[first:last] = rendered
        redis.run(lambda client: _store(client, keys[first:last], rendered))
    return months


def _render(
    page: SeriesPage,
    revision: int,
    bounds: list[int],
    render: Callable[[SeriesPage], SeriesColumns],
) -> list[_Month]:
    """The HOUR items of the local months between ``bounds``, rendered from the rollups."""
    span = replace(
        page,
        start=datetime.fromtimestamp(bounds[0], UTC),
        end=datetime.fromtimestamp(bounds[-1], UTC),
        after=None,
        limit=_ALL_HOURS,
    )
    columns = render(span)
    items = [orjson.dumps(item) for item in series_items(columns, meter=page.meter)]
    starts = list(columns.starts)
    cuts = [bisect_left(starts, bound) for bound in bounds]
    return [_Month.of(revision, starts[low:high], items[low:high]) for low, high in pairwise(cuts)]


def _store(client, keys: list[str], months: list[_Month]) -> list:
    pipeline = client.pipeline(transaction=False)
    for key, month in zip(keys, months, strict=True):
        pipeline.set(key, month.encode(), ex=settings.USAGE_HOUR_ITEMS_SECONDS)
    return pipeline.execute()


class _Taken:
    """The items a page takes from its months, in order: the starts of its first ``limit``
    items in ``[low, high)`` (``low`` is past the page token's item) and the JSON of those it
    shows (at most ``limit - 1``; the last start only says a next page exists). A month wholly
    in the page is taken without a search."""

    def __init__(self, page: SeriesPage) -> None:
        self.low = int(page.start.timestamp())
        if page.after is not None:
            self.low = max(self.low, int(page.after.timestamp()) + 1)
        self.high = int(page.end.timestamp())
        self._limit = page.limit
        self._starts: list[int] = []
        self._shown: list[tuple[_Month, int, int]] = []

    def take(self, month: _Month) -> bool:
        """Takes ``month``'s items in the page; whether the page is full."""
        hours = month.starts
        if not hours:
            return False
        first = 0 if hours[0] >= self.low else bisect_left(hours, self.low)
        end = len(hours) if hours[-1] < self.high else bisect_left(hours, self.high)
        end = min(end, first + self._limit - len(self._starts))
        if end > first:
            self._shown.append((month, first, end))
            self._starts += hours[first:end].tolist()
        return len(self._starts) == self._limit

    def result(self) -> tuple[list[int], bytes]:
        shown = self._shown
        if len(self._starts) == self._limit:
            month, first, end = shown[-1]
            shown = [*shown[:-1], (month, first, end - 1)]
        return self._starts, b",".join(
            month.json(first, end) for month, first, end in shown if end > first
        )
