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
its rollup revision (``usage.models.RollupRevision``, bumped by every rollup write) and a hash
of what the items were rendered under (``usage.rendering.day_items_basis``: zone, unit,
interval, channels, currency, ``ITEMS_VERSION``) and the direction: an entry is never served
after the meter's rollups changed, or for another currency, because the key then differs.
Entries expire ``USAGE_HOUR_ITEMS_SECONDS`` after they were written (0 turns them off).
Without ``REDIS_URL``, or while Redis fails (``energygrid.failopen``), pages are rendered from
the rollups on every read.

An entry's bytes, in the machine's byte order: the item count ``n`` (uint64), the items' starts
(``n`` int64 epoch seconds), their offsets in the body (``n + 1`` uint32, each item's end one
comma past it) and the body: the items' JSON (``usage.rendering.item_json``) joined by commas.
Keys carry :data:`_LAYOUT`; bytes that do not hold an entry are a miss, rendered again.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import pairwise

import orjson
from django.conf import settings

from energygrid.failopen import FailOpenRedis
from metadata.catalog import Granularity
from usage.calendar import bucket_bound_epochs
from usage.rendering import day_items_basis, series_items
from usage.selectors import SeriesPage, usage_series_columns

logger = logging.getLogger(__name__)

#: The entries' byte layout, part of their keys: a process writing another layout (during a
#: rolling deploy) never reads or overwrites this one's.
_LAYOUT = "v2"
#: An entry's item count (8 bytes, so the starts that follow are aligned).
_COUNT = struct.Struct("=Q")
#: More HOUR buckets than the longest HOUR range holds.
_ALL_HOURS = 100_000


@dataclass(frozen=True)
class _Month:
    """One local month's HOUR items: their starts, their offsets in ``body`` and the body
    (decoded as views of the entry's bytes, nothing copied)."""

    starts: Sequence[int]
    offsets: Sequence[int]
    body: bytes | memoryview

    @classmethod
    def of(cls, starts: Sequence[int], items: list[bytes]) -> _Month:
        offsets = array("I", [0])
        for item in items:
            offsets.append(offsets[-1] + len(item) + 1)
        return cls(array("q", starts), offsets, b",".join(items))

    @classmethod
    def decode(cls, data: bytes) -> _Month | None:
        """The entry ``data`` holds, or ``None`` when its sizes do not add up."""
        if len(data) < _COUNT.size:
            return None
        (count,) = _COUNT.unpack_from(data)
        offsets_at = _COUNT.size + 8 * count
        body_at = offsets_at + 4 * (count + 1)
        if body_at > len(data):
            return None
        view = memoryview(data)
        offsets = view[offsets_at:body_at].cast("I")
        if body_at + max(offsets[-1] - 1, 0) != len(data):
            return None
        return cls(view[_COUNT.size : offsets_at].cast("q"), offsets, view[body_at:])

    def encode(self) -> bytes:
        return b"".join(
            (
                _COUNT.pack(len(self.starts)),
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


def hour_items(page: SeriesPage, *, currency: str) -> tuple[list[int], bytes] | None:
    """The starts (UTC epoch seconds) of the first ``page.limit`` HOUR items of ``page`` and
    the JSON of those the page shows, comma-joined (:func:`_page`), from the cache; the months
    it misses are rendered from the rollups and stored first. ``None`` when Redis fails: the
    caller renders the page."""
    meter = page.meter
    low = page.start if page.after is None else max(page.start, page.after)
    if low >= page.end:  # a token from before the meter's zone changed may lie past the end
        return [], b""
    bounds = bucket_bound_epochs(
        timezone=meter.timezone,
        granularity=Granularity.MONTH,
        billing_cycle_day=meter.account.billing_cycle_day,
        start=low,
        end=page.end,
    ).tolist()
    basis = f"{day_items_basis(meter, currency)} {page.direction.name}".encode()
    prefix = (
        f"usage:hours:{_LAYOUT}:{meter.pk.hex}:{meter.rollup_revision}:"
        f"{hashlib.blake2b(basis, digest_size=8).hexdigest()}:"
    )
    keys = [f"{prefix}{month}" for month in bounds[:-1]]
    redis = _redis(settings.REDIS_URL)
    stored = redis.run(lambda client: client.mget(keys))
    if stored is None:
        return None
    months = [None if data is None else _Month.decode(data) for data in stored]
    missing = [index for index, month in enumerate(months) if month is None]
    if missing:
        first, last = missing[0], missing[-1] + 1
        rendered = _render(page, currency, bounds[first : last + 1])
        months[first:last] = rendered
        if redis.run(lambda client: _store(client, keys[first:last], rendered)) is None:
            return None
    return _page(page, months)


def _render(page: SeriesPage, currency: str, bounds: list[int]) -> list[_Month]:
    """The HOUR items of the local months between ``bounds``, rendered from the rollups."""
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
    cuts = [bisect_left(starts, bound) for bound in bounds]
    return [_Month.of(starts[low:high], items[low:high]) for low, high in pairwise(cuts)]


def _store(client, keys: list[str], months: list[_Month]) -> list:
    pipeline = client.pipeline(transaction=False)
    for key, month in zip(keys, months, strict=True):
        pipeline.set(key, month.encode(), ex=settings.USAGE_HOUR_ITEMS_SECONDS)
    return pipeline.execute()


def _page(page: SeriesPage, months: list[_Month]) -> tuple[list[int], bytes]:
    """The starts of the page's first ``page.limit`` items in ``months`` and the JSON of those
    the page shows (at most ``page.limit - 1``). A month wholly in the page is taken
    without a search."""
    low = int(page.start.timestamp())
    if page.after is not None:  # items after the token's, and still in the range
        low = max(low, int(page.after.timestamp()) + 1)
    high = int(page.end.timestamp())
    shown: list[tuple[_Month, int, int]] = []
    starts: list[int] = []
    for month in months:
        hours = month.starts
        if not hours:
            continue
        first = 0 if hours[0] >= low else bisect_left(hours, low)
        end = len(hours) if hours[-1] < high else bisect_left(hours, high)
        end = min(end, first + page.limit - len(starts))
        if end > first:
            shown.append((month, first, end))
            starts += hours[first:end].tolist()
            if len(starts) == page.limit:
                month, first, end = shown.pop()
                shown.append((month, first, end - 1))
                break
    return starts, b",".join(month.json(first, end) for month, first, end in shown if end > first)
