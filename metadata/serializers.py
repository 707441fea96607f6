"""Output shapes of the Metadata lists: each serializer renders one catalog enum member."""

from __future__ import annotations

from django.utils.translation import gettext
from rest_framework import serializers

from metadata.catalog import (
    BUDGET_PERIOD_IDS,
    FLOW_DIRECTION_IDS,
    GRANULARITY_IDS,
    INSIGHT_TYPE_IDS,
    PARTNER_SCOPE_IDS,
    SERVICE_TYPE_IDS,
    UNIT_OF_MEASURE_IDS,
)


def _id_field(ids: tuple[str, ...]) -> serializers.ChoiceField:
    """The member's name as ``id``, declared as a choice so the schema lists every id."""
    return serializers.ChoiceField(choices=ids, source="name")


class GranularityTypeSerializer(serializers.Serializer):
    id = _id_field(GRANULARITY_IDS)
    name = serializers.CharField(source="value.name")
    nominalSeconds = serializers.IntegerField(
        source="value.nominal_seconds",
        allow_null=True,
        help_text="Bucket length; null for calendar buckets, whose length varies.",
    )
    calendar = serializers.BooleanField(
        help_text="Buckets follow the meter's local calendar (DAY and coarser)."
    )
    maxRangeDays = serializers.IntegerField(
        source="value.max_range_days",
        help_text="Longest range one usage request may ask for, in local calendar days; "
        "longer is a 400 range-too-large.",
    )


class ServiceTypeSerializer(serializers.Serializer):
    id = _id_field(SERVICE_TYPE_IDS)
    name = serializers.CharField(source="value.name")
    defaultUnitOfMeasure = serializers.ChoiceField(
        choices=UNIT_OF_MEASURE_IDS, source="value.default_unit"
    )


class UnitOfMeasureSerializer(serializers.Serializer):
    id = _id_field(UNIT_OF_MEASURE_IDS)
    name = serializers.CharField(source="value.name")
    serviceTypes = serializers.ListField(
        child=serializers.ChoiceField(choices=SERVICE_TYPE_IDS),
        source="value.service_types",
    )


class TranslatedCharField(serializers.CharField):
    """A catalog string in the active language (see ``metadata/locale``)."""

    def to_representation(self, value: str) -> str:
        return gettext(value)


class InsightTypeSerializer(serializers.Serializer):
    id = _id_field(INSIGHT_TYPE_IDS)
    name = TranslatedCharField(source="value.name")
    description = TranslatedCharField(source="value.description")


class BudgetPeriodSerializer(serializers.Serializer):
    id = _id_field(BUDGET_PERIOD_IDS)
    name = serializers.CharField(source="value")


class FlowDirectionSerializer(serializers.Serializer):
    id = _id_field(FLOW_DIRECTION_IDS)
    name = serializers.CharField(source="value")


class PartnerScopeSerializer(serializers.Serializer):
    id = serializers.ChoiceField(choices=PARTNER_SCOPE_IDS, source="value.id")
    name = serializers.CharField(source="value.name")
    description = serializers.CharField(source="value.description")
