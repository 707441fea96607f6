"""Insights as the API shows them (contract section 7), and the ``data`` of each type.

The per-type ``data`` serializers only document the schema (a ``oneOf`` keyed by ``type``);
responses render ``data`` as stored, since the generators already wrote it in API form.
"""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from customers.models import Account, Meter
from insights.models import Feedback, Insight, InsightStatus, Severity
from metadata.catalog import INSIGHT_TYPE_IDS, InsightType
from usage.calendar import zone


def _money(help_text: str = "", **kwargs) -> serializers.CharField:
    return serializers.CharField(
        help_text=f"{help_text} Decimal string in your billing currency.".strip(), **kwargs
    )


def _energy(help_text: str, **kwargs) -> serializers.FloatField:
    return serializers.FloatField(help_text=f"{help_text} In `unitOfMeasure`.", **kwargs)


class BillForecastData(serializers.Serializer):
    usedToDate = _energy("Metered usage of the period so far.")
    costToDate = _money("Cost so far.", allow_null=True)
    forecastQuantity = _energy("Expected usage of the whole period.")
    forecastCost = _money("Expected bill.", allow_null=True)
    forecastCostLow = _money("Lower end of the 80 % prediction interval.", allow_null=True)
    forecastCostHigh = _money("Upper end of the 80 % prediction interval.", allow_null=True)
    forecastQuantityLow = _energy("Lower end of the 80 % interval.")
    forecastQuantityHigh = _energy("Upper end of the 80 % interval.")
    daysElapsed = serializers.IntegerField()
    daysInPeriod = serializers.IntegerField()
    unitOfMeasure = serializers.CharField()
    modelKind = serializers.ChoiceField(
        choices=["calendar", "intercept", "heating", "cooling", "heating_cooling"],
        help_text="Which daily model form won (calendar: no weather for the premise).",
    )


class HighBillAlertData(serializers.Serializer):
    forecastCost = _money("This period's forecast bill.")
    previousCost = _money("The previous period's bill.")
    changePercent = serializers.FloatField()
    driver = serializers.ChoiceField(choices=["WEATHER", "MORE_DAYS", "USAGE"])
    changeByDriver = serializers.DictField(
        child=serializers.FloatField(),
        help_text="The usage change split by driver (they add up to it), in `unitOfMeasure`.",
    )
    unitOfMeasure = serializers.CharField()


class UsageAnomalyData(serializers.Serializer):
    granularity = serializers.ChoiceField(choices=["DAY", "HOUR"])
    expectedQuantity = _energy("What the model expected.")
    actualQuantity = _energy("What was used.")
    excessQuantity = _energy("actual - expected.")
    excessCost = _money("What the excess cost.", allow_null=True)
    unitOfMeasure = serializers.CharField()


class PeriodComparisonData(serializers.Serializer):
    currentQuantity = _energy("The last complete billing period.")
    previousQuantity = _energy("The period before (null: not enough data).", allow_null=True)
    yearAgoQuantity = _energy("The period a year earlier (null: no data).", allow_null=True)
    changePercent = serializers.FloatField(allow_null=True, help_text="Versus the previous.")
    weatherAdjustedChangePercent = serializers.FloatField(
        allow_null=True, help_text="Versus the previous, net of weather, length and weekdays."
    )
    yearAgoChangePercent = serializers.FloatField(allow_null=True)
    weatherAdjustedYearAgoChangePercent = serializers.FloatField(allow_null=True)
    unitOfMeasure = serializers.CharField()


class PeerComparisonData(serializers.Serializer):
    percentile = serializers.FloatField(
        help_text="Share (%) of similar homes that used less than yours; lower is better."
    )
    cohortSize = serializers.IntegerField(help_text="Similar homes compared with (10 or more).")
    yourQuantity = _energy("Your home's usage last month.")
    averageQuantity = _energy("The similar homes' average.")
    efficientQuantity = _energy("Efficient neighbours: the similar homes' 20th percentile.")
    serviceType = serializers.CharField()
    unitOfMeasure = serializers.CharField()


class AlwaysOnData(serializers.Serializer):
    baseloadWatts = serializers.FloatField(help_text="Always-on power, W.")
    annualQuantity = _energy("Its yearly energy (W x 8.76 kWh).")
    annualCost = _money("Its yearly cost.", allow_null=True)
    shareOfUsage = serializers.FloatField(
        allow_null=True, help_text="Its share (0-1) of the last 30 days' usage."
    )
    unitOfMeasure = serializers.CharField()


class PeakTimeData(serializers.Serializer):
    peakHour = serializers.IntegerField(min_value=0, max_value=23, help_text="Local hour.")
    peakShare = serializers.FloatField(help_text="Share (0-1) of a day's usage in that hour.")
    shiftableSavingPerMonth = _money(
        "Monthly saving from moving a fifth of peak-rate usage to the cheapest hours; "
        '"0.00" on a flat tariff, null when the meter is not priced.',
        allow_null=True,
    )
    timeOfUse = serializers.BooleanField()


class SolarExportData(serializers.Serializer):
    received = _energy("Energy sent to the grid in the period.")
    credit = _money("What it earned (null: unpriced).", allow_null=True)
    delivered = _energy("Energy drawn from the grid in the period.")
    net = _energy("delivered - received (below zero: a net exporter).")
    previousReceived = _energy(
        "Energy sent to the grid in the period a year earlier (null: no data).", allow_null=True
    )
    unitOfMeasure = serializers.CharField()


class BudgetAlertData(serializers.Serializer):
    budgetId = serializers.UUIDField()
    threshold = serializers.IntegerField(help_text="Percent of the limit that was crossed.")
    used = serializers.CharField(help_text="Decimal string: money (COST) or quantity (ENERGY).")
    limit = serializers.CharField(help_text="Decimal string, as the budget's limit.")


DATA_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    InsightType.BILL_FORECAST.name: BillForecastData,
    InsightType.HIGH_BILL_ALERT.name: HighBillAlertData,
    InsightType.USAGE_ANOMALY.name: UsageAnomalyData,
    InsightType.PERIOD_COMPARISON.name: PeriodComparisonData,
    InsightType.PEER_COMPARISON.name: PeerComparisonData,
    InsightType.ALWAYS_ON.name: AlwaysOnData,
    InsightType.PEAK_TIME.name: PeakTimeData,
    InsightType.BUDGET_ALERT.name: BudgetAlertData,
    InsightType.SOLAR_EXPORT.name: SolarExportData,
}


class InsightSerializer(serializers.ModelSerializer):
    """Period bounds are shown at the meter's local offset (the customer's for account-level
    insights), like usage buckets."""

    type = serializers.ChoiceField(choices=INSIGHT_TYPE_IDS)
    accountId = serializers.UUIDField(source="account_id", allow_null=True)
    meterId = serializers.UUIDField(source="meter_id", allow_null=True)
    periodStart = serializers.SerializerMethodField()
    periodEnd = serializers.SerializerMethodField()
    data = serializers.JSONField()
    feedback = serializers.SerializerMethodField()
    generatedAt = serializers.DateTimeField(source="generated_at")
    modelVersion = serializers.CharField(source="model_version")

    class Meta:
        model = Insight
        fields = [
            "id",
            "type",
            "severity",
            "title",
            "summary",
            "accountId",
            "meterId",
            "periodStart",
            "periodEnd",
            "data",
            "status",
            "feedback",
            "generatedAt",
            "modelVersion",
        ]

    def _local(self, insight: Insight, instant) -> str:
        name = insight.meter.timezone if insight.meter_id else insight.customer.timezone
        return instant.astimezone(zone(name)).isoformat()

    def get_periodStart(self, insight: Insight) -> str:
        return self._local(insight, insight.period_start)

    def get_periodEnd(self, insight: Insight) -> str:
        return self._local(insight, insight.period_end)

    def get_feedback(self, insight: Insight) -> str | None:
        return insight.feedback or None


def _typed_insight(insight_type: str) -> type[serializers.Serializer]:
    """The insight schema with ``type`` fixed and ``data`` of that type (documentation only)."""
    data = DATA_SERIALIZERS[insight_type]
    name = "".join(part.title() for part in insight_type.split("_"))
    return type(
        f"{name}InsightSerializer",
        (serializers.Serializer,),
        {
            "__module__": __name__,
            "id": serializers.UUIDField(),
            "type": serializers.ChoiceField(choices=[insight_type]),
            "severity": serializers.ChoiceField(choices=Severity.values),
            "title": serializers.CharField(),
            "summary": serializers.CharField(),
            "accountId": serializers.UUIDField(allow_null=True),
            "meterId": serializers.UUIDField(allow_null=True),
            "periodStart": serializers.DateTimeField(),
            "periodEnd": serializers.DateTimeField(),
            "data": data(),
            "status": serializers.ChoiceField(choices=InsightStatus.values),
            "feedback": serializers.ChoiceField(choices=Feedback.values, allow_null=True),
            "generatedAt": serializers.DateTimeField(),
            "modelVersion": serializers.CharField(),
        },
    )


def insight_schema(*, many: bool = False) -> PolymorphicProxySerializer:
    """``oneOf`` the per-type insight schemas, discriminated by ``type``."""
    return PolymorphicProxySerializer(
        component_name="Insight",
        serializers={t: _typed_insight(t) for t in DATA_SERIALIZERS},
        resource_type_field_name="type",
        many=many,
    )


class InsightFilterSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=INSIGHT_TYPE_IDS, required=False)
    accountId = serializers.UUIDField(required=False, help_text="One of your account ids.")
    meterId = serializers.UUIDField(required=False, help_text="One of your meter ids.")
    status = serializers.ChoiceField(choices=InsightStatus.values, required=False)

    def _own(self, model, value, message: str):
        """An unknown and a foreign id are the same error: no existence oracle."""
        customer = self.context["request"].user
        lookup = {"account__customer": customer} if model is Meter else {"customer": customer}
        if not model.objects.filter(pk=value, **lookup).exists():
            raise serializers.ValidationError(message, code="not_found")
        return value

    def validate_accountId(self, value):
        return self._own(Account, value, "No such account.")

    def validate_meterId(self, value):
        return self._own(Meter, value, "No such meter.")


class InsightPatchSerializer(serializers.Serializer):
    #: Unknown fields and an empty body are refused (see ``validate``).
    request_schema_rules = {"additionalProperties": False, "minProperties": 1}

    status = serializers.ChoiceField(
        choices=[InsightStatus.READ, InsightStatus.DISMISSED], required=False
    )
    feedback = serializers.ChoiceField(choices=Feedback.values, required=False)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown field."] for name in sorted(unknown)}, code="unknown_field"
            )
        if not attrs:
            raise serializers.ValidationError("Give status and/or feedback.", code="required")
        return attrs
