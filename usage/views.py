"""The Usage endpoints: a meter's series, a range summary, and Green Button / CSV export."""

from __future__ import annotations

from datetime import UTC, datetime
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
from energygrid.api.conditional import conditional_body, conditional_response
from energygrid.api.pagination import (
    PAGE_OPENAPI_PARAMETERS,
    decode_token,
    encode_token,
    parse_page_size,
    query_fingerprint,
)
from energygrid.api.problems import RangeTooLarge
from energygrid.api.query import parse_query
from energygrid.api.schema import ETAG_HEADER, IF_NONE_MATCH, INSTANT_SCHEMA, NOT_MODIFIED
from energygrid.money import format_money
from metadata.catalog import FLOW_DIRECTION_IDS, FlowDirection, Granularity
from usage import exports, selectors
from usage.calendar import meter_bucket_range, zone
from usage.rendering import (
    RenderedPage,
    page_cache,
    series_body,
)
from usage.serializers import (
    ExportQuerySerializer,
    SummaryQuerySerializer,
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


_DIRECTION = OpenApiParameter(
    "direction",
    str,
    enum=list(FLOW_DIRECTION_IDS),
    default=FlowDirection.NET.name,
    description="What is counted: NET = delivered - received (may be negative), DELIVERED "
    "(grid to customer) or RECEIVED (exported, with its credit). On a meter that is not "
    "bidirectional NET equals DELIVERED and RECEIVED has no items.",
)


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
            OpenApiParameter(
                "granularity",
                str,
                required=True,
                enum=[g.name for g in Granularity],
                description="A billing-read meter (readResolution BILLING) accepts only "
                "BILLING_PERIOD: its read periods, those whose start lies in [start, end).",
            ),
            *_RANGE,
            _DIRECTION,
            *PAGE_OPENAPI_PARAMETERS,
            ETAG_HEADER,
            IF_NONE_MATCH,
        ],
        responses={200: UsageSeriesSerializer, 304: NOT_MODIFIED},
    )
    def retrieve(self, request: Request, meterId: str) -> Response:
        meter = self._meter()
        query = parse_query(UsageQuerySerializer, request, meter=meter)
        granularity: Granularity = query["granularity"]
        direction: FlowDirection = query["direction"]
        _check_range(query["start"], query["end"], meter, granularity.value.max_range_days)
        size = parse_page_size(request)
        after_values = decode_token(request)
        after = datetime.fromisoformat(after_values[0]) if after_values else None
        if meter.billing_read:
            # Its buckets are its read periods: those that start in the range, not widened.
            start, end = query["start"], query["end"]
        else:
            start, end = meter_bucket_range(meter, granularity, query["start"], query["end"])
        page = selectors.SeriesPage(
            meter=meter,
            granularity=granularity,
            start=start,
            end=end,
            after=after,
            limit=size + 1,
            direction=direction,
        )
        currency = request.user.billing_currency
        key = None
        if granularity is not Granularity.FIFTEEN_MINUTE:
            key = (
                query_fingerprint(request),
                start,
                end,
                size,
                after,
                direction,
                currency,
                meter.timezone,
                meter.unit_of_measure,
                meter.interval_seconds,
                meter.bidirectional,
                meter.rollup_revision,
            )
        rendered = None if key is None else page_cache.get(key)
        if rendered is None:
            starts, items = selectors.usage_page_items(page, size=size, currency=currency)
            token = None
            if len(starts) > size:
                token = encode_token(request, [datetime.fromtimestamp(starts[size - 1], UTC)])
            rendered = RenderedPage.of(
                series_body(
                    items,
                    meter=meter,
                    granularity=granularity,
                    direction=direction,
                    currency=currency,
                    next_page_token=token,
                )
            )
            if key is not None:
                page_cache.put(key, rendered)
        return conditional_body(request, rendered.body, etag=rendered.etag)

    @extend_schema(
        tags=["Usage"],
        summary="Totals for a range, the days just before it and the same dates a year earlier",
        description="A billing-read meter's totals count the read periods that start in each "
        "range; its peakInterval is null.",
        parameters=[_METER_ID, *_RANGE, _DIRECTION, ETAG_HEADER, IF_NONE_MATCH],
        responses={200: UsageSummarySerializer, 304: NOT_MODIFIED},
    )
    @action(detail=True, methods=["get"])
    def summary(self, request: Request, meterId: str) -> Response:
        meter = self._meter()
        query = parse_query(SummaryQuerySerializer, request, meter=meter)
        _check_range(query["start"], query["end"], meter, Granularity.DAY.value.max_range_days)
        tz = zone(meter.timezone)
        start, end = meter_bucket_range(meter, Granularity.DAY, query["start"], query["end"])
        direction: FlowDirection = query["direction"]
        summary = selectors.usage_summary(
            meter=meter,
            first_day=start.astimezone(tz).date(),
            end_day=end.astimezone(tz).date(),
            direction=direction,
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
        return conditional_response(
            request,
            self,
            {
                "direction": direction.name,
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
            },
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
