"""The fixed reference lists the API speaks in (served by the Metadata endpoints).

Other apps import these enums rather than repeating the ids.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.utils.translation import gettext_noop


@dataclass(frozen=True)
class GranularityInfo:
    name: str
    nominal_seconds: int | None  # None for calendar buckets (their length varies)
    max_range_days: int  # longest [start, end) one usage request may ask for, in local days


class Granularity(enum.Enum):
    """Bucket sizes, finest first. Calendar ones follow the meter's local calendar."""

    FIFTEEN_MINUTE = GranularityInfo("15 minutes", 900, 31)
    HOUR = GranularityInfo("Hour", 3600, 92)
    DAY = GranularityInfo("Day", None, 1100)
    WEEK = GranularityInfo("Week (Monday to Sunday)", None, 3660)
    MONTH = GranularityInfo("Calendar month", None, 3660)
    BILLING_PERIOD = GranularityInfo("Billing period", None, 3660)

    @property
    def calendar(self) -> bool:
        return self.value.nominal_seconds is None

    @property
    def typical_seconds(self) -> int:
        """A bucket's usual length (a day 24 h, a month 28 days at least): a meter whose interval
        is longer than this cannot fill the bucket, so the granularity is finer than the meter."""
        return self.value.nominal_seconds or {"DAY": 86400, "WEEK": 7 * 86400}.get(
            self.name, 28 * 86400
        )


@dataclass(frozen=True)
class ServiceTypeInfo:
    name: str
    default_unit: str


class ServiceTypeCatalog(enum.Enum):
    ELECTRIC = ServiceTypeInfo("Electricity", "kWh")
    GAS = ServiceTypeInfo("Natural gas", "therm")
    WATER = ServiceTypeInfo("Water", "gal")


@dataclass(frozen=True)
class UnitInfo:
    name: str
    service_types: tuple[str, ...]


class UnitOfMeasure(enum.Enum):
    """Member names are the unit ids the API speaks (``kWh``, not ``KWH``)."""

    kWh = UnitInfo("Kilowatt-hour", ("ELECTRIC",))
    Wh = UnitInfo("Watt-hour", ("ELECTRIC",))
    therm = UnitInfo("Therm (100,000 BTU)", ("GAS",))
    CCF = UnitInfo("Hundred cubic feet", ("GAS", "WATER"))
    m3 = UnitInfo("Cubic metre", ("GAS", "WATER"))
    gal = UnitInfo("US gallon", ("WATER",))


UNITS_OF_MEASURE: dict[str, UnitInfo] = {unit.name: unit.value for unit in UnitOfMeasure}

#: Units whose interval quantity divided by hours is a power (kW): peak demand applies.
ENERGY_UNITS_TO_KW: dict[str, float] = {"kWh": 1.0, "Wh": 0.001}


@dataclass(frozen=True)
class InsightTypeInfo:
    """An insight type's English name and description; ``/Metadata/insight-types`` sends them
    translated (``metadata/locale``) into the language the client accepts."""

    name: str
    description: str


class InsightType(enum.Enum):
    BILL_FORECAST = InsightTypeInfo(
        gettext_noop("Bill forecast"),
        gettext_noop(
            "Usage and cost so far this billing period and a forecast to its end, "
            "with an 80% range."
        ),
    )
    HIGH_BILL_ALERT = InsightTypeInfo(
        gettext_noop("High bill alert"),
        gettext_noop("This period's bill is forecast well above the previous one, and why."),
    )
    USAGE_ANOMALY = InsightTypeInfo(
        gettext_noop("Unusual usage"),
        gettext_noop("A day when usage was far above what the weather and your habits explain."),
    )
    PERIOD_COMPARISON = InsightTypeInfo(
        gettext_noop("Period comparison"),
        gettext_noop(
            "The last billing period against the previous one and the same period last year, "
            "weather-adjusted."
        ),
    )
    PEER_COMPARISON = InsightTypeInfo(
        gettext_noop("Neighbour comparison"),
        gettext_noop(
            "Your usage last month against similar homes nearby, and efficient neighbours."
        ),
    )
    ALWAYS_ON = InsightTypeInfo(
        gettext_noop("Always-on usage"),
        gettext_noop("Power your home draws around the clock, and what it costs a year."),
    )
    PEAK_TIME = InsightTypeInfo(
        gettext_noop("Peak time"),
        gettext_noop("When your usage peaks and what shifting it off-peak would save."),
    )
    BUDGET_ALERT = InsightTypeInfo(
        gettext_noop("Budget alert"),
        gettext_noop("Your usage crossed one of your budget's alert thresholds."),
    )
    SOLAR_EXPORT = InsightTypeInfo(
        gettext_noop("Solar export"),
        gettext_noop(
            "Energy your home sent back to the grid last billing period and the credit it earned."
        ),
    )


class BudgetPeriod(enum.Enum):
    MONTHLY = "Calendar month"
    BILLING_PERIOD = "Billing period"


class FlowDirection(enum.Enum):
    """Which energy a usage read counts (contract section 10.1); ``NET`` is the default."""

    NET = "Net (delivered minus received)"
    DELIVERED = "Delivered (grid to customer)"
    RECEIVED = "Received (customer to grid)"


@dataclass(frozen=True)
class PartnerScopeInfo:
    id: str  # as OAuth spells it: ``usage:read``
    name: str
    description: str


class PartnerScope(enum.Enum):
    """What a customer can let a partner app do (contract section 11.1)."""

    USAGE_READ = PartnerScopeInfo(
        "usage:read",
        "Read usage",
        "Accounts, meters and their usage (series, summary and export).",
    )
    INSIGHTS_READ = PartnerScopeInfo("insights:read", "Read insights", "Insights.")
    BUDGETS_READ = PartnerScopeInfo("budgets:read", "Read budgets", "Budgets and their status.")
    BUDGETS_WRITE = PartnerScopeInfo(
        "budgets:write", "Manage budgets", "Create, change and delete budgets."
    )
    ESPI = PartnerScopeInfo(
        "espi",
        "Green Button Connect My Data",
        "ESPI 1.1 Batch/Subscription and UsagePoint feeds of the granted meters.",
    )


#: Each list's ids as the API spells them (also what names the OpenAPI enums).
GRANULARITY_IDS: tuple[str, ...] = tuple(member.name for member in Granularity)
SERVICE_TYPE_IDS: tuple[str, ...] = tuple(member.name for member in ServiceTypeCatalog)
UNIT_OF_MEASURE_IDS: tuple[str, ...] = tuple(member.name for member in UnitOfMeasure)
INSIGHT_TYPE_IDS: tuple[str, ...] = tuple(member.name for member in InsightType)
BUDGET_PERIOD_IDS: tuple[str, ...] = tuple(member.name for member in BudgetPeriod)
FLOW_DIRECTION_IDS: tuple[str, ...] = tuple(member.name for member in FlowDirection)
PARTNER_SCOPE_IDS: tuple[str, ...] = tuple(member.value.id for member in PartnerScope)
