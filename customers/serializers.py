from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.models import (
    Account,
    Customer,
    Meter,
    Premise,
    ReadResolution,
    ServiceType,
    Tariff,
    TariffPeriod,
)


class TokenField(serializers.CharField):
    """A JWT in compact form. Any other non-blank string is a refused token (401, one message
    for every reason), so the shape is stated in the schema only, not validated here."""

    schema_rules = {"pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$"}


class LoginInputSerializer(serializers.Serializer):
    identityToken = TokenField(max_length=16384, trim_whitespace=True)


class RefreshInputSerializer(serializers.Serializer):
    refreshToken = TokenField(max_length=4096, trim_whitespace=True)


class UtilityRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class ProfileSerializer(serializers.ModelSerializer):
    displayName = serializers.CharField(source="display_name")
    billingCurrency = serializers.CharField(source="billing_currency")
    utility = UtilityRefSerializer()

    class Meta:
        model = Customer
        fields = ["id", "displayName", "email", "billingCurrency", "timezone", "locale", "utility"]


class SessionSerializer(serializers.Serializer):
    accessToken = serializers.CharField(source="access_token")
    refreshToken = serializers.CharField(source="refresh_token")
    tokenType = serializers.SerializerMethodField()
    expiresIn = serializers.IntegerField(source="expires_in", help_text="Access-token seconds.")
    customer = ProfileSerializer()

    def get_tokenType(self, session) -> str:
        return "Bearer"


class PremiseSerializer(serializers.ModelSerializer):
    addressLine1 = serializers.CharField(source="address_line1")
    postalCode = serializers.CharField(source="postal_code")

    class Meta:
        model = Premise
        fields = ["addressLine1", "city", "region", "postalCode", "country"]


class AccountSerializer(serializers.ModelSerializer):
    accountNumber = serializers.CharField(
        source="masked_number", help_text="Masked: only the last 4 characters show."
    )
    premise = PremiseSerializer(allow_null=True)
    meterIds = serializers.SerializerMethodField()

    class Meta:
        model = Account
        fields = ["id", "accountNumber", "status", "premise", "meterIds"]

    def get_meterIds(self, account: Account) -> list[str]:
        return [str(meter.id) for meter in account.meters.all()]


class TariffRefSerializer(serializers.ModelSerializer):
    timeOfUse = serializers.BooleanField(source="time_of_use")

    class Meta:
        model = Tariff
        fields = ["id", "name", "currency", "timeOfUse"]


class TariffHistoryEntrySerializer(serializers.Serializer):
    """One entry of a tariff history: ``tariff`` in force from local date ``from``."""

    tariff = TariffRefSerializer()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField(  # a Python keyword, so not a class attribute
            source="valid_from",
            allow_null=True,
            help_text="Local date (the meter's time zone) it applies from, until the next "
            "entry's; null on a first entry: since the start. The first entry also covers "
            "everything before it.",
        )
        return fields


class MeterSerializer(serializers.ModelSerializer):
    accountId = serializers.UUIDField(source="account_id")
    serviceType = serializers.CharField(source="service_type")
    unitOfMeasure = serializers.CharField(source="unit_of_measure")
    readResolution = serializers.ChoiceField(
        source="read_resolution",
        choices=ReadResolution.choices,
        help_text="INTERVAL: a reading every intervalSeconds. BILLING: one reading per read "
        "period (usage only by BILLING_PERIOD).",
    )
    intervalSeconds = serializers.IntegerField(
        source="interval_seconds", allow_null=True, help_text="Null for a BILLING meter."
    )
    bidirectional = serializers.BooleanField(
        help_text="Records energy both ways: DELIVERED and RECEIVED (e.g. rooftop solar)."
    )
    firstReadingAt = serializers.DateTimeField(
        source="first_reading_at", allow_null=True, help_text="Start of the first reading."
    )
    lastReadingAt = serializers.DateTimeField(
        source="last_reading_at", allow_null=True, help_text="End of the last reading."
    )
    tariff = TariffRefSerializer(allow_null=True)
    exportTariff = TariffRefSerializer(
        source="export_tariff",
        allow_null=True,
        help_text="What RECEIVED energy earns; null: the tariff's rate (net metering).",
    )
    tariffHistory = serializers.SerializerMethodField(
        help_text="The tariffs in force over time, ascending; the last is the tariff now. A "
        "meter whose tariff never changed has one entry (from null); one with no tariff none."
    )

    class Meta:
        model = Meter
        fields = [
            "id",
            "accountId",
            "serviceType",
            "unitOfMeasure",
            "readResolution",
            "intervalSeconds",
            "bidirectional",
            "timezone",
            "firstReadingAt",
            "lastReadingAt",
            "tariff",
            "exportTariff",
            "tariffHistory",
        ]

    @extend_schema_field(TariffHistoryEntrySerializer(many=True))
    def get_tariffHistory(self, meter: Meter) -> list[dict]:
        entries = [period for period in meter.tariff_periods.all() if not period.export]
        if not entries and meter.tariff is not None:
            entries = [TariffPeriod(tariff=meter.tariff, valid_from=None)]
        return TariffHistoryEntrySerializer(entries, many=True).data


class MeterFilterSerializer(serializers.Serializer):
    accountId = serializers.UUIDField(required=False, help_text="One of your account ids.")
    serviceType = serializers.ChoiceField(choices=ServiceType.choices, required=False)

    def validate_accountId(self, value):
        """An unknown and a foreign account are the same error: no existence oracle."""
        customer = self.context["request"].user
        if not Account.objects.filter(pk=value, customer=customer).exists():
            raise serializers.ValidationError("No such account.", code="not_found")
        return value
