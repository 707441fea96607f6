"""Usage series rendered straight to JSON bytes, column by column.

The series is the API's hottest read: up to 1,000 buckets a page. Timestamps are formatted by
numpy (``calendar.local_isoformats``: each distinct UTC offset once), energy figures are
rounded by numpy from integer millionths (half-even to 3 decimals, as ``round(Decimal, 3)``),
money comes formatted (``usage.selectors``), and the body is serialised by
``orjson``. The bytes are exactly those DRF's ``JSONRenderer`` writes for the same data
(compact separators, UTF-8), as the Usage tests check.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import orjson
from cachetools import LRUCache
from django.conf import settings

from customers.models import Meter
from energygrid.api.conditional import strong_etag
from metadata.catalog import ENERGY_UNITS_TO_KW, FlowDirection, Granularity
from usage.calendar import local_isoformats
from usage.models import Quality


@dataclass(frozen=True)
class SeriesColumns:
    """A page of buckets in one direction as columns: UTC epoch seconds; energy (quantities,
    peak, delivered, received) as integer millionths of the unit (``None`` for no peak); cost
    as text, the API's money where it is rendered, and expected count as ``Decimal`` or text
    (``usage.selectors.Bucket`` says what each is)."""

    starts: Sequence[int]
    ends: Sequence[int]
    quantities: Sequence[int]
    costs: Sequence[Any]
    actual_counts: Sequence[int]
    estimated_counts: Sequence[int]
    covered_counts: Sequence[int]
    expected_counts: Sequence[Any]
    peak_quantities: Sequence[int | None]
    delivered: Sequence[int]
    received: Sequence[int]

    def __len__(self) -> int:
        return len(self.starts)

    def head(self, count: int) -> SeriesColumns:
        """The first ``count`` buckets."""
        return SeriesColumns(*(getattr(self, f.name)[:count] for f in fields(self)))


def _divide_half_even(numerators: np.ndarray, denominator: int) -> np.ndarray:
    """``numerators / denominator`` rounded half to even, exactly, in integers."""
    quotients, remainders = np.divmod(numerators, denominator)
    twice = 2 * remainders
    return quotients + ((twice > denominator) | ((twice == denominator) & (quotients % 2 == 1)))


def _energies(micros: Sequence[int], scale: Fraction = Fraction(1)) -> list[float]:
    """Energy in integer millionths, times ``scale``, as JSON numbers rounded to 3 decimals
    (half-even, equal to ``float(round(Decimal, 3))``: thousandths divided by 1000 is the
    nearest float)."""
    values = np.asarray(micros, dtype=np.int64) * scale.numerator
    return (_divide_half_even(values, 1000 * scale.denominator) / 1000).tolist()


_ACTUAL, _ESTIMATED, _MIXED = Quality.ACTUAL.value, Quality.ESTIMATED.value, "MIXED"


def _qualities(actual_counts: Sequence[int], estimated_counts: Sequence[int]) -> list[str]:
    """ACTUAL when no reading is estimated, ESTIMATED when none is actual, else MIXED."""
    return [
        _ACTUAL if not estimated else _ESTIMATED if not actual else _MIXED
        for actual, estimated in zip(actual_counts, estimated_counts, strict=True)
    ]


def _coverages(covered_counts: Sequence[int], expected_counts: Sequence[Any]) -> list[float]:
    """Readings / intervals the bucket's real duration holds, at most 1, to 4 decimals; each
    distinct pair computed once (a page has a handful)."""
    values = {}
    for pair in set(zip(covered_counts, expected_counts, strict=True)):
        covered, expected = pair
        total = Decimal(expected)
        values[pair] = round(min(1.0, float(covered / total)), 4) if total else 0.0
    return list(map(values.__getitem__, zip(covered_counts, expected_counts, strict=True)))


def series_items(columns: SeriesColumns, *, meter: Meter) -> list[dict[str, Any]]:
    """The ``items`` of a Usage page (contract sections 5 and 10), its costs already money
    (``usage.selectors.usage_series_columns``): a bidirectional meter's also carry both
    channels' quantities; a billing-read meter (no interval) has no peak demand."""
    count = len(columns)
    moments = local_isoformats([*columns.starts, *columns.ends], meter.timezone)
    quantities = _energies(columns.quantities)
    kw_per_unit = ENERGY_UNITS_TO_KW.get(meter.unit_of_measure)
    if kw_per_unit is None or not meter.interval_seconds:
        peaks = [None] * count
    else:
        # kW = energy per interval x intervals per hour x kW per unit.
        per_hour = Fraction(3600, meter.interval_seconds) * Fraction(str(kw_per_unit))
        if None in columns.peak_quantities:
            peaks = _energies([peak or 0 for peak in columns.peak_quantities], per_hour)
            peaks = [
                None if peak is None else demand
                for peak, demand in zip(columns.peak_quantities, peaks, strict=True)
            ]
        else:
            peaks = _energies(columns.peak_quantities, per_hour)
    items = [
        {
            "start": start,
            "end": end,
            "quantity": quantity,
            "cost": cost,
            "quality": quality,
            "coverage": coverage,
            "peakDemand": peak,
        }
        for start, end, quantity, cost, quality, coverage, peak in zip(
            moments[:count],
            moments[count:],
            quantities,
            columns.costs,
            _qualities(columns.actual_counts, columns.estimated_counts),
            _coverages(columns.covered_counts, columns.expected_counts),
            peaks,
            strict=True,
        )
    ]
    if meter.bidirectional:
        for item, delivered, received in zip(
            items, _energies(columns.delivered), _energies(columns.received), strict=True
        ):
            item["delivered"] = delivered
            item["received"] = received
    return items


def series_body(
    items: list[dict[str, Any]] | orjson.Fragment,
    *,
    meter: Meter,
    granularity: Granularity,
    direction: FlowDirection,
    currency: str,
    next_page_token: str | None,
) -> bytes:
    """The whole Usage page as JSON bytes: ``items`` from :func:`series_items`, or already
    JSON (:func:`items_fragment`)."""
    body: dict[str, Any] = {
        "meterId": str(meter.id),
        "granularity": granularity.name,
        "direction": direction.name,
        "unitOfMeasure": meter.unit_of_measure,
        "currency": currency,
        "timezone": meter.timezone,
        "items": items,
    }
    if next_page_token:
        body["nextPageToken"] = next_page_token
    return orjson.dumps(body)


def item_json(item: dict[str, Any]) -> str:
    """One item of :func:`series_items` as the JSON a page holds it as."""
    return orjson.dumps(item).decode()


def items_fragment(items: Sequence[str]) -> orjson.Fragment:
    """Items already JSON (:func:`item_json`) as the page's ``items`` array."""
    return orjson.Fragment(f"[{','.join(items)}]")


#: Bumped whenever :func:`series_items` renders differently, so items stored by an older
#: version (``usage.models.RenderedDay``) are rendered again rather than served.
ITEMS_VERSION = 1


def day_items_basis(meter: Meter, currency: str) -> str:
    """Everything a stored DAY item depends on besides its rollup: the meter's time zone
    (offsets), unit and interval (peak demand), directions (NET, delivered and received),
    the currency its cost is formatted in, and :data:`ITEMS_VERSION`."""
    return (
        f"v{ITEMS_VERSION} {meter.timezone} {meter.unit_of_measure} {meter.interval_seconds} "
        f"{'bidirectional' if meter.bidirectional else 'delivered'} {currency}"
    )


@dataclass(frozen=True)
class RenderedPage:
    """A page's bytes and their strong ``ETag`` (hashed once, when rendered)."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> RenderedPage:
        return cls(body, strong_etag(body))


class PageCache:
    """Rendered Usage pages by a key that holds everything the bytes depend on, including the
    meter's rollup revision (``usage.models.RollupRevision``): a page is never served after
    its rollups changed, because its key then differs. Per process, least recently used out
    first, bounded in bytes (``USAGE_PAGE_CACHE_BYTES``; 0 turns it off)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: LRUCache | None = None

    def _store(self) -> LRUCache | None:
        size = settings.USAGE_PAGE_CACHE_BYTES
        if self._pages is None or self._pages.maxsize != size:
            self._pages = (
                LRUCache(maxsize=size, getsizeof=lambda page: len(page.body)) if size else None
            )
        return self._pages

    def get(self, key: Hashable) -> RenderedPage | None:
        with self._lock:
            pages = self._store()
            return None if pages is None else pages.get(key)

    def put(self, key: Hashable, page: RenderedPage) -> None:
        with self._lock:
            pages = self._store()
            if pages is not None and len(page.body) <= pages.maxsize:
                pages[key] = page


page_cache = PageCache()
