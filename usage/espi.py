"""NAESB ESPI (Green Button) code tables, shared by the import and the export so a file we
write is one we read back exactly."""

from __future__ import annotations

from decimal import Decimal

from usage.models import Quality

#: ReadingType uom code -> its name, for error messages.
UOM_NAMES = {72: "Wh", 169: "therm", 119: "ft³", 42: "m³", 128: "US gal"}
#: (uom code, meter unit) -> how many meter units one uom unit is. Codes, not titles: titles lie.
UOM_TO_METER_UNIT: dict[tuple[int, str], Decimal] = {
    (72, "kWh"): Decimal("0.001"),
    (72, "Wh"): Decimal(1),
    (169, "therm"): Decimal(1),
    (119, "CCF"): Decimal("0.01"),
    (42, "m3"): Decimal(1),
    (128, "gal"): Decimal(1),
}
#: Meter unit -> (uom code, meter units per uom unit): the export's side of the same table.
METER_UNIT_TO_UOM: dict[str, tuple[int, Decimal]] = {
    unit: (uom, factor) for (uom, unit), factor in UOM_TO_METER_UNIT.items()
}
#: ReadingType currency (ISO 4217 numeric) -> alphabetic code.
CURRENCIES = {
    36: "AUD",
    124: "CAD",
    356: "INR",
    392: "JPY",
    554: "NZD",
    826: "GBP",
    840: "USD",
    978: "EUR",
}
CURRENCY_CODES = {alpha: numeric for numeric, alpha in CURRENCIES.items()}
#: QualityOfReading codes: measured values vs values the utility filled in or derived.
ACTUAL_QUALITIES = {0, 10, 14, 17, 18, 19}
ESTIMATED_QUALITIES = {7, 8, 9, 11, 12, 13, 15, 16}
#: What the export writes: 0 "valid", 8 "estimated using a reference day".
QUALITY_CODES = {Quality.ACTUAL: 0, Quality.ESTIMATED: 8}
#: IntervalReading/cost is in hundred-thousandths of the currency.
COST_EXPONENT = -5
#: UsagePoint ServiceCategory kinds.
SERVICE_KINDS = {"ELECTRIC": 0, "GAS": 1, "WATER": 2}
