"""Usage series rendered straight to JSON bytes, column by column.

The series is the API's hottest read: up to 1,000 buckets a page. Timestamps are formatted by
numpy (``calendar.local_isoformats``: each distinct UTC offset once), figures are rounded as
``Decimal`` (money half-up to the currency's minor unit, quantity to 3 decimals) and the body
is serialised by ``orjson``. The bytes are exactly those DRF's ``JSONRenderer`` writes for the
same data (compact separators, UTF-8), as the Usage tests check.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

import orjson
from cachetools import LRUCache
from django.conf import settings

from customers.models import Meter
from energygrid.money import format_money
from metadata.catalog import ENERGY_UNITS_TO_KW, FlowDirection, Granularity
from usage.calendar import local_isoformats
from usage.models import Quality

_QUANTITY = Decimal("0.001")


@dataclass(frozen=True)
class SeriesColumns:
    """A page of buckets in one direction as columns: UTC epoch seconds, and figures as
    ``Decimal`` or text (``usage.selectors.Bucket`` says what each is)."""

    starts: list[int]
    ends: list[int]
    quantities: list[Any]
    costs: list[Any]
    actual_counts: list[int]
    estimated_counts: list[int]
    covered_counts: list[int]
    expected_counts: list[Any]
    peak_quantities: list[Any]
    delivered: list[Any]
    received: list[Any]

    def __len__(self) -> int:
        return len(self.starts)

    def head(self, count: int) -> SeriesColumns:
        """The first ``count`` buckets."""
        return SeriesColumns(*(getattr(self, f.name)[:count] for f in fields(self)))


def _quantity(value: Any) -> float:
    """Energy as a JSON number rounded to 3 decimals (half-even, as ``round(Decimal, 3)``)."""
    return float(Decimal(value).quantize(_QUANTITY))


_ACTUAL, _ESTIMATED = Quality.ACTUAL.value, Quality.ESTIMATED.value


def _quality(actual: int, estimated: int) -> str:
    if estimated == 0:
        return _ACTUAL
    if actual == 0:
        return _ESTIMATED
    return "MIXED"


def series_items(columns: SeriesColumns, *, meter: Meter, currency: str) -> list[dict[str, Any]]:
    """The ``items`` of a Usage page (contract sections 5 and 10): a bidirectional meter's
    also carry both channels' quantities; a billing-read meter (no interval) has no peak
    demand."""
    moments = local_isoformats([*columns.starts, *columns.ends], meter.timezone)
    count = len(columns)
    kw_per_unit = ENERGY_UNITS_TO_KW.get(meter.unit_of_measure)
    kw = None if kw_per_unit is None else Decimal(str(kw_per_unit))
    hours = Decimal(meter.interval_seconds or 0) / 3600
    coverages: dict[tuple[int, Any], float] = {}
    items = []
    for i in range(count):
        key = (columns.covered_counts[i], columns.expected_counts[i])
        coverage = coverages.get(key)
        if coverage is None:
            expected = Decimal(key[1])
            coverage = round(min(1.0, float(key[0] / expected)), 4) if expected else 0.0
            coverages[key] = coverage
        peak = columns.peak_quantities[i]
        item = {
            "start": moments[i],
            "end": moments[count + i],
            "quantity": _quantity(columns.quantities[i]),
            "cost": format_money(columns.costs[i], currency),
            "quality": _quality(columns.actual_counts[i], columns.estimated_counts[i]),
            "coverage": coverage,
            "peakDemand": (
                None
                if kw is None or not hours or peak is None
                else _quantity(Decimal(peak) / hours * kw)
            ),
        }
        if meter.bidirectional:
            item["delivered"] = _quantity(columns.delivered[i])
            item["received"] = _quantity(columns.received[i])
        items.append(item)
    return items


def series_body(
    columns: SeriesColumns,
    *,
    meter: Meter,
    granularity: Granularity,
    direction: FlowDirection,
    currency: str,
    next_page_token: str | None,
) -> bytes:
    """The whole Usage page as JSON bytes."""
    body: dict[str, Any] = {
        "meterId": str(meter.id),
        "granularity": granularity.name,
        "direction": direction.name,
        "unitOfMeasure": meter.unit_of_measure,
        "currency": currency,
        "timezone": meter.timezone,
        "items": series_items(columns, meter=meter, currency=currency),
    }
    if next_page_token:
        body["nextPageToken"] = next_page_token
    return orjson.dumps(body)


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
            self._pages = LRUCache(maxsize=size, getsizeof=len) if size else None
        return self._pages

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            pages = self._store()
            return None if pages is None else pages.get(key)

    def put(self, key: Hashable, body: bytes) -> None:
        with self._lock:
            pages = self._store()
            if pages is not None and len(body) <= pages.maxsize:
                pages[key] = body


page_cache = PageCache()
