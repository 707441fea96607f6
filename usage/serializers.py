"""Query parsing for the Usage endpoints and the documented shapes of their responses.

Series are rendered as plain dicts (no per-item serializer): the output serializers here only
describe the bodies in the OpenAPI schema.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from metadata.catalog import FLOW_DIRECTION_IDS, FlowDirection, Granularity
from usage.calendar import (
    SUPPORTED_END,
    SUPPORTED_START,
    is_supported,
    is_supported_date,
    local_date_start,
    zone,
)

_UNSUPPORTED = (
    f"Must lie between {SUPPORTED_START.isoformat()} and {SUPPORTED_END.isoformat()} "
    "(the supported dates)."
)


def parse_instant(value: str, timezone: str) -> datetime:
    """An RFC 3339 date-time with offset, or a date meaning local midnight in ``timezone``,
    within the supported dates."""
    instant = _parse_instant(value.strip(), timezone)
    if not is_supported(instant):
        raise serializers.ValidationError(_UNSUPPORTED, code="out_of_range")
    return instant


def _parse_instant(text: str, timezone: str) -> datetime:
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise serializers.ValidationError("Not a valid date (YYYY-MM-DD).") from None
        if not is_supported_date(day):
            raise serializers.ValidationError(_UNSUPPORTED, code="out_of_range")
        return local_date_start(zone(timezone), day)
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise serializers.ValidationError(
            "Use an RFC 3339 date-time with offset, or a date YYYY-MM-DD."
        ) from None
    if "T" not in text.upper() or instant.utcoffset() is None:
        raise serializers.ValidationError(
            "A date-time needs a UTC offset (e.g. 2026-03-08T00:00:00-05:00 or ...Z)."
        )
    return instant


def local_days(start: datetime, end: datetime, timezone: str) -> int:
    """How many local calendar days ``[start, end)`` spans (a 23- or 25-hour day counts as one)."""
    tz = zone(timezone)
    wall = end.astimezone(tz).replace(tzinfo=None) - start.astimezone(tz).replace(tzinfo=None)
    return math.ceil(wall.total_seconds() / 86400)


class RangeQuerySerializer(serializers.Serializer):
    """``start``/``end`` in the meter's calendar; the meter comes in the context."""

    start = serializers.CharField(help_text="RFC 3339 date-time with offset, or YYYY-MM-DD.")
    end = serializers.CharField(help_text="Exclusive. RFC 3339 date-time with offset, or date.")

    def _instant(self, value: str) -> datetime:
        return parse_instant(value, self.context["meter"].timezone)

    def validate_start(self, value: str) -> datetime:
        return self._instant(value)

    def validate_end(self, value: str) -> datetime:
        return self._instant(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError(
                {"end": [ErrorDetail("Must be after start.", code="not_after_start")]}
            )
        return attrs


class SummaryQuerySerializer(RangeQuerySerializer):
    """The range and the direction counted (contract section 10.1)."""

    direction = serializers.ChoiceField(choices=FLOW_DIRECTION_IDS, default=FlowDirection.NET.name)

    def validate_direction(self, value: str) -> FlowDirection:
        return FlowDirection[value]


class UsageQuerySerializer(SummaryQuerySerializer):
    granularity = serializers.ChoiceField(choices=[g.name for g in Granularity])

    def validate_granularity(self, value: str) -> Granularity:
        granularity = Granularity[value]
        meter = self.context["meter"]
        if meter.billing_read:
            if granularity is not Granularity.BILLING_PERIOD:
                raise serializers.ValidationError(
                    f"{value} is finer than this meter's read periods; use BILLING_PERIOD.",
                    code="finer_than_meter",
                )
        elif granularity.typical_seconds < meter.interval_seconds:
            raise serializers.ValidationError(
                f"{value} is finer than this meter's {meter.interval_seconds}-second interval.",
                code="finer_than_meter",
            )
        return granularity


class ExportQuerySerializer(RangeQuerySerializer):
    format = serializers.ChoiceField(choices=["espi", "csv"], default="espi")


class UsageItemSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Bucket start, with the meter's local offset.")
    end = serializers.DateTimeField(help_text="Bucket end (exclusive), local offset.")
    quantity = serializers.FloatField(
        help_text="In unitOfMeasure, rounded to 3 decimals, of the direction: NET = delivered "
        "- received (negative when more was exported)."
    )
    cost = serializers.DecimalField(
        max_digits=20,
        decimal_places=2,
        allow_null=True,
        help_text="Decimal string in currency: NET = delivered cost - received credit "
        '(negative is a credit, "-4.20"); RECEIVED = the credit.',
    )
    quality = serializers.ChoiceField(choices=["ACTUAL", "ESTIMATED", "MIXED"])
    coverage = serializers.FloatField(min_value=0, max_value=1)
    peakDemand = serializers.FloatField(
        allow_null=True,
        help_text="kW for energy meters (largest interval of the direction, delivered for NET, "
        "/ interval hours); null for other units, billing-read meters, and a NET bucket with "
        "no delivered reading.",
    )
    delivered = serializers.FloatField(
        required=False,
        help_text="Bidirectional meters only: the DELIVERED quantity, whatever the direction.",
    )
    received = serializers.FloatField(
        required=False,
        help_text="Bidirectional meters only: the RECEIVED quantity, whatever the direction.",
    )


class UsageSeriesSerializer(serializers.Serializer):
    meterId = serializers.UUIDField()
    granularity = serializers.ChoiceField(choices=[g.name for g in Granularity])
    direction = serializers.ChoiceField(
        choices=FLOW_DIRECTION_IDS, help_text="The direction counted (the query's)."
    )
    unitOfMeasure = serializers.CharField()
    currency = serializers.CharField()
    timezone = serializers.CharField()
    items = UsageItemSerializer(many=True)
    nextPageToken = serializers.CharField(required=False)


class PeriodTotalSerializer(serializers.Serializer):
    quantity = serializers.FloatField()
    cost = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class PeakIntervalSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    quantity = serializers.FloatField()


class UsageSummarySerializer(serializers.Serializer):
    direction = serializers.ChoiceField(
        choices=FLOW_DIRECTION_IDS, help_text="The direction counted (the query's)."
    )
    current = PeriodTotalSerializer()
    previous = PeriodTotalSerializer(allow_null=True)
    yearAgo = PeriodTotalSerializer(allow_null=True)
    changePercent = serializers.FloatField(allow_null=True)
    averageDailyQuantity = serializers.FloatField()
    peakInterval = PeakIntervalSerializer(allow_null=True)


def quantity_number(value: Decimal) -> float:
    """Energy as a JSON number rounded to 3 decimals."""
    return float(round(value, 3))
