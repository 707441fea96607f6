"""Budgets in and out: strict input validation (field-level errors as JSON pointers) and the
representation with its live ``status``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from budgets.amounts import amount_string, decimal_places
from budgets.models import Budget, BudgetKind, BudgetState
from budgets.selectors import BudgetStatus
from customers.models import Account, Customer, Meter
from customers.selectors import account_scope
from metadata.catalog import BUDGET_PERIOD_IDS
from usage.calendar import zone

#: Limits are below a trillion: bounds the column and refuses absurd input.
MAX_LIMIT = Decimal(10) ** 12
_DECIMAL_STRING = re.compile(r"-?[0-9]{1,16}(\.[0-9]{1,16})?")
DEFAULT_ALERT_THRESHOLDS = [80, 100]
MAX_ALERT_THRESHOLDS = 5
#: Fields of the representation a client may not write.
_READ_ONLY = frozenset({"id", "createdAt", "updatedAt", "status"})


class OwnedIdField(serializers.UUIDField):
    """The id of one of the requesting customer's rows, validated into that row.

    An unknown id and another customer's id give the very same error, so the response never
    tells whether someone else's account or meter exists.
    """

    def __init__(self, *, owned: Callable[[Customer], QuerySet], noun: str, **kwargs: Any):
        self.owned = owned
        self.noun = noun
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Model:
        pk = super().to_internal_value(data)
        row = self.owned(self.context["request"].user).filter(pk=pk).first()
        if row is None:
            raise serializers.ValidationError(f"No such {self.noun}.", code="not_found")
        return row


def _own_accounts(customer: Customer) -> QuerySet[Account]:
    return Account.objects.filter(account_scope(customer, "pk"), customer=customer)


def _own_meters(customer: Customer) -> QuerySet[Meter]:
    return Meter.objects.filter(account_scope(customer), account__customer=customer)


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^[0-9]{1,16}(\.[0-9]{1,16})?$",
        "example": "120.00",
        "description": "Greater than 0 and less than 10^12, with at most the currency's "
        "minor-unit decimals (COST) or 3 (ENERGY).",
    }
)
class DecimalStringField(serializers.Field):
    """A positive decimal written as a JSON string (``"120.00"``): never a float."""

    default_error_messages = {
        "invalid": 'Must be a decimal string such as "120.00".',
        "min_value": "Must be greater than zero.",
        "max_value": f"Must be less than {MAX_LIMIT:,}.",
    }

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str) or not _DECIMAL_STRING.fullmatch(data):
            self.fail("invalid")
        value = Decimal(data)
        if value <= 0:
            self.fail("min_value")
        if value >= MAX_LIMIT:
            self.fail("max_value")
        return value

    def to_representation(self, value: Decimal) -> str:
        return str(value)


class StrictCharField(serializers.CharField):
    """A JSON string: ``42`` is refused, not coerced to ``"42"``."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: ``"80"``, ``80.5`` and ``true`` are refused, not coerced.

    ``80.0`` is the JSON number 80 (JSON Schema's ``integer`` includes it, so generated
    clients may send it) and is taken as 80.
    """

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, float) and data.is_integer():
            data = int(data)
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true``/``false``: ``"yes"``, ``1`` and ``"true"`` are refused, not coerced."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictObjectSerializer(serializers.Serializer):
    """Refuses fields it does not declare instead of ignoring them (a typo is an error)."""

    request_schema_rules = {"additionalProperties": False}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        unknown: dict[str, list[ErrorDetail]] = {}
        if isinstance(data, Mapping):
            for name in data:
                if name in _READ_ONLY:
                    unknown[name] = [ErrorDetail("This field is read-only.", code="read_only")]
                elif name not in self.fields:
                    unknown[name] = [ErrorDetail("Unknown field.", code="unknown_field")]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class BudgetInputSerializer(StrictObjectSerializer):
    """A budget to create (POST), or the fields to change (PATCH). Unknown and read-only
    fields are refused. In a PATCH, the rules relating fields (kind and meterId, meterId and
    accountId, limit's decimals and kind) apply to the budget as it is after the change."""

    name = StrictCharField(max_length=100, help_text="1-100 characters.")
    kind = serializers.ChoiceField(choices=BudgetKind.choices)
    period = serializers.ChoiceField(choices=BUDGET_PERIOD_IDS)
    accountId = OwnedIdField(source="account", owned=_own_accounts, noun="account")
    meterId = OwnedIdField(
        source="meter",
        owned=_own_meters,
        noun="meter",
        allow_null=True,
        default=None,
        help_text="Required for ENERGY (a meter of the account); null for COST.",
    )
    limit = DecimalStringField(
        help_text="Money in your billing currency, to its minor unit (COST), or energy in the "
        "meter's unit, to 3 decimals (ENERGY)."
    )
    alertThresholds = serializers.ListField(
        source="alert_thresholds",
        child=StrictIntegerField(min_value=1, max_value=200),
        max_length=MAX_ALERT_THRESHOLDS,
        default=DEFAULT_ALERT_THRESHOLDS,
        help_text="Percentages of the limit, 1-200, ascending, unique, at most 5.",
    )
    active = StrictBooleanField(default=True)

    def validate_alertThresholds(self, thresholds: list[int]) -> list[int]:
        errors = {}
        for index in range(1, len(thresholds)):
            if thresholds[index] == thresholds[index - 1]:
                errors[index] = [ErrorDetail("Duplicate threshold.", code="duplicate")]
            elif thresholds[index] < thresholds[index - 1]:
                errors[index] = [
                    ErrorDetail("Thresholds must be in ascending order.", code="not_ascending")
                ]
        if errors:
            raise serializers.ValidationError(errors)
        return thresholds

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        def after(field: str) -> Any:
            return attrs[field] if field in attrs else getattr(self.instance, field)

        kind, account, meter, limit = map(after, ("kind", "account", "meter", "limit"))
        errors: dict[str, list[ErrorDetail]] = {}
        if kind == BudgetKind.ENERGY and meter is None:
            errors["meterId"] = [ErrorDetail("An ENERGY budget needs a meter.", code="required")]
        elif kind == BudgetKind.COST and meter is not None:
            errors["meterId"] = [
                ErrorDetail(
                    "A COST budget covers every meter of its account: meterId must be null.",
                    code="not_allowed",
                )
            ]
        elif meter is not None and meter.account_id != account.pk:
            errors["meterId"] = [
                ErrorDetail("This meter is not on the budget's account.", code="not_in_account")
            ]
        currency = self.context["request"].user.billing_currency
        places = decimal_places(kind, currency)
        if -limit.normalize().as_tuple().exponent > places:
            unit = currency if kind == BudgetKind.COST else "energy"
            errors["limit"] = [
                ErrorDetail(f"At most {places} decimal places ({unit}).", code="max_decimal_places")
            ]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class BudgetFilterSerializer(serializers.Serializer):
    """``GET /Budgets`` filters; an unknown and a foreign ``accountId`` are the same 400."""

    accountId = OwnedIdField(
        owned=_own_accounts, noun="account", required=False, help_text="One of your accounts."
    )
    active = serializers.ChoiceField(
        choices=["true", "false"], required=False, help_text="`true` or `false`."
    )


class BudgetStatusSerializer(serializers.Serializer):
    """Where the budget stands in its current period, computed from the usage rollups at
    request time (documents the shape that ``BudgetSerializer.get_status`` renders)."""

    periodStart = serializers.DateTimeField(help_text="Current period start, local offset.")
    periodEnd = serializers.DateTimeField(help_text="Current period end (exclusive).")
    used = serializers.CharField(
        help_text="Decimal string, written like limit: net usage (delivered - received), so "
        "below zero when credits exceed charges; a billing-read meter counts the read periods "
        "that started in the period."
    )
    projected = serializers.CharField(
        help_text="Forecast total at period end (the bill forecast, else the run-rate)."
    )
    percentUsed = serializers.FloatField(
        help_text="used / limit x 100, 1 decimal (negative when used is)."
    )
    state = serializers.ChoiceField(choices=BudgetState.choices)
    asOf = serializers.DateTimeField(help_text="End of the usage data counted.")


class BudgetSerializer(serializers.ModelSerializer):
    """A cost budget (every meter of an account) or an energy budget (one meter), with its
    status this period."""

    # Statuses are computed for a whole page at once: context["statuses"] maps id -> status.

    accountId = serializers.UUIDField(source="account_id")
    meterId = serializers.UUIDField(source="meter_id", allow_null=True)
    limit = serializers.SerializerMethodField()
    alertThresholds = serializers.ListField(
        source="alert_thresholds", child=serializers.IntegerField()
    )
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    status = serializers.SerializerMethodField()

    class Meta:
        model = Budget
        fields = [
            "id",
            "name",
            "kind",
            "period",
            "accountId",
            "meterId",
            "limit",
            "alertThresholds",
            "active",
            "createdAt",
            "updatedAt",
            "status",
        ]

    @extend_schema_field(OpenApiTypes.STR)
    def get_limit(self, budget: Budget) -> str:
        return amount_string(budget, budget.limit)

    @extend_schema_field(BudgetStatusSerializer)
    def get_status(self, budget: Budget) -> dict[str, Any]:
        status: BudgetStatus = self.context["statuses"][budget.pk]
        tz = zone(budget.customer.timezone)
        return {
            "periodStart": status.period.start.astimezone(tz).isoformat(),
            "periodEnd": status.period.end.astimezone(tz).isoformat(),
            "used": amount_string(budget, status.used),
            "projected": amount_string(budget, status.projected),
            "percentUsed": float(status.percent_used),
            "state": status.state,
            "asOf": status.as_of.astimezone(tz).isoformat(),
        }
