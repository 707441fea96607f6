"""The Usage endpoints: a meter's series, a range summary, and Green Button / CSV export."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from customers.models import Meter
from energygrid.api.pagination import (
    PAGE_OPENAPI_PARAMETERS,
    Page,
    decode_token,
    encode_token,
    parse_page_size,
)
from energygrid.api.problems import RangeTooLarge
from energygrid.api.query import parse_query
from energygrid.api.schema import INSTANT_SCHEMA
from energygrid.money import format_money
from metadata.catalog import ENERGY_UNITS_TO_KW, Granularity
from usage import exports, selectors
from usage.calendar import meter_bucket_range, zone
from usage.serializers import (
    ExportQuerySerializer,
    RangeQuerySerializer,
    UsageQuerySerializer,
    UsageSeriesSerializer,
    UsageSummarySerializer,
    local_days,
    quantity_number,
)

#: Longest range one export may cover, in local days.
EXPORT_MAX_DAYS = 366

_METER_ID = OpenApiParameter("meterId", OpenApiTypes.UUID, OpenApiParameter.PATH)
_RANGE = [
    OpenApiParameter(
        "start",
        INSTANT_SCHEMA,
        required=True,
        description="RFC 3339 date-time with offset, or a date (local midnight); from "
        "1900-01-01T00:00:00Z to 2200-01-01T00:00:00Z.",
    ),
    OpenApiParameter(
        "end",
        INSTANT_SCHEMA,
        required=True,
        description="Exclusive, after start; RFC 3339 date-time with offset, or a date.",
    ),
]


def _check_range(start: datetime, end: datetime, meter: Meter, max_days: int) -> None:
    if local_days(start, end, meter.timezone) > max_days:
        raise RangeTooLarge(
            {"end": [f"The range may span at most {max_days} local days."]}, code="range_too_large"
        )


class _FormatIsAFilter(DefaultContentNegotiation):
    """``?format=`` picks the export's file format here, not DRF's renderer."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


class UsageViewSet(viewsets.GenericViewSet):
    lookup_url_kwarg = "meterId"
    content_negotiation_class = _FormatIsAFilter

    def _meter(self) -> Meter:
        return selectors.meter_get(customer=self.request.user, meter_id=self.kwargs["meterId"])

    @extend_schema(
        tags=["Usage"],
        summary="A meter's usage series at a granularity",
        parameters=[
            _METER_ID,
            OpenApiParameter("granularity", str, required=True, enum=[g.name for g in Granularity]),
            *_RANGE,
            *PAGE_OPENAPI_PARAMETERS,
        ],
        responses=UsageSeriesSerializer,
    )
    def retrieve(self, request: Request, meterId: str) -> Response:
        meter = self._meter()
        query = parse_query(UsageQuerySerializer, request, meter=meter)
        granularity: Granularity = query["granularity"]
        _check_range(query["start"], query["end"], meter, granularity.value.max_range_days)
        size = parse_page_size(request)
        after_values = decode_token(request)
        after = datetime.fromisoformat(after_values[0]) if after_values else None
        start, end = meter_bucket_range(meter, granularity, query["start"], query["end"])
        buckets = selectors.usage_series(
            meter=meter,
            granularity=granularity,
            start=start,
            end=end,
            after=after,
            limit=size + 1,
        )
        token = encode_token(request, [buckets[size - 1].start]) if len(buckets) > size else None
        currency = request.user.billing_currency
        tz = zone(meter.timezone)
        kw_per_unit = ENERGY_UNITS_TO_KW.get(meter.unit_of_measure)
        hours = Decimal(meter.interval_seconds) / 3600
        items = [
            {
                "start": bucket.start.astimezone(tz).isoformat(),
                "end": bucket.end.astimezone(tz).isoformat(),
                "quantity": quantity_number(bucket.quantity),
                "cost": format_money(bucket.cost, currency),
                "quality": bucket.quality,
                "coverage": round(bucket.coverage, 4),
                "peakDemand": (
                    quantity_number(bucket.peak_quantity / hours * Decimal(str(kw_per_unit)))
                    if kw_per_unit is not None
                    else None
                ),
            }
            for bucket in buckets[:size]
        ]
        return Response(
            Page(items, token).envelope(
                meterId=str(meter.id),
                granularity=granularity.name,
                unitOfMeasure=meter.unit_of_measure,
                currency=currency,
                timezone=meter.timezone,
            )
        )

    @extend_schema(
        tags=["Usage"],
        summary="Totals for a range, the days just before it and the same dates a year earlier",
        parameters=[_METER_ID, *_RANGE],
        responses=UsageSummarySerializer,
    )
    @action(detail=True, methods=["get"])
    def summary(self, request: Request, meterId: str) -> Response:
        meter = self._meter()
        query = parse_query(RangeQuerySerializer, request, meter=meter)
        _check_range(query["start"], query["end"], meter, Granularity.DAY.value.max_range_days)
        tz = zone(meter.timezone)
        start, end = meter_bucket_range(meter, Granularity.DAY, query["start"], query["end"])
        summary = selectors.usage_summary(
            meter=meter, first_day=start.astimezone(tz).date(), end_day=end.astimezone(tz).date()
        )
        currency = request.user.billing_currency

        def total(period: selectors.PeriodTotal | None) -> dict[str, Any] | None:
            if period is None:
                return None
            return {
                "quantity": quantity_number(period.quantity),
                "cost": format_money(period.cost, currency),
                "start": period.start.astimezone(tz).isoformat(),
                "end": period.end.astimezone(tz).isoformat(),
            }

        change = summary.change_percent
        return Response(
            {
                "current": total(summary.current),
                "previous": total(summary.previous),
                "yearAgo": total(summary.year_ago),
                "changePercent": None if change is None else float(round(change, 1)),
                "averageDailyQuantity": quantity_number(summary.average_daily_quantity),
                "peakInterval": (
                    None
                    if summary.peak_start is None
                    else {
                        "start": summary.peak_start.astimezone(tz).isoformat(),
                        "quantity": quantity_number(summary.peak_quantity),
                    }
                ),
            }
        )

    @extend_schema(
        tags=["Usage"],
        summary="Green Button Download My Data: ESPI Atom feed or CSV, one row per interval",
        parameters=[
            _METER_ID,
            OpenApiParameter("format", str, enum=["espi", "csv"], default="espi"),
            *_RANGE,
        ],
        responses={
            (200, "application/atom+xml"): OpenApiResponse(OpenApiTypes.STR, "ESPI Atom feed"),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, "CSV"),
        },
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, meterId: str) -> StreamingHttpResponse:
        meter = self._meter()
        query = parse_query(ExportQuerySerializer, request, meter=meter)
        _check_range(query["start"], query["end"], meter, EXPORT_MAX_DAYS)
        currency = request.user.billing_currency
        if query["format"] == "csv":
            body = exports.csv_lines(
                meter=meter, start=query["start"], end=query["end"], currency=currency
            )
            content_type, suffix = "text/csv; charset=utf-8", "csv"
        else:
            body = exports.espi_feed(
                meter=meter,
                start=query["start"],
                end=query["end"],
                currency=currency,
                customer=request.user,
            )
            content_type, suffix = "application/atom+xml; charset=utf-8", "xml"
        response = StreamingHttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = (
            f'attachment; filename="usage-{meter.meter_number}.{suffix}"'
        )
        return response
