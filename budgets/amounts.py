"""How a budget's amounts (limit, used, projected) are rounded and written.

A COST budget speaks money: the customer's billing currency, rounded half up to its minor unit
(``energygrid.money``). An ENERGY budget speaks the meter's unit to 3 decimals, rounded exactly
as the Usage endpoints round ``quantity`` (``usage.serializers.quantity_number``), so a
budget's ``used`` and the Usage summary of the same range are the same number.
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, format_decimal, get_currency_precision

from budgets.models import Budget, BudgetKind
from energygrid.money import quantize_money

ENERGY_DECIMAL_PLACES = 3


def amount_quantize(budget: Budget, value: Decimal) -> Decimal:
    """``value`` rounded as the API shows it for ``budget``'s kind."""
    if budget.kind == BudgetKind.COST:
        return quantize_money(value, budget.customer.billing_currency)
    # round() on a Decimal gives 3 places, half-even: exactly usage's quantity_number.
    return round(value, ENERGY_DECIMAL_PLACES)


def amount_string(budget: Budget, value: Decimal) -> str:
    """The API's decimal string: ``"12.34"`` (USD), ``"1234"`` (JPY), ``"412.500"`` (kWh)."""
    return str(amount_quantize(budget, value))


def amount_text(budget: Budget, value: Decimal) -> str:
    """For people, in the customer's locale: ``$1,234.50`` or ``412.5 kWh``."""
    locale = budget.customer.locale.replace("-", "_")
    amount = amount_quantize(budget, value)
    if budget.kind == BudgetKind.COST:
        return format_currency(amount, budget.customer.billing_currency, locale=locale)
    return f"{format_decimal(amount, locale=locale)} {budget.meter.unit_of_measure}"


def decimal_places(budget_kind: str, currency: str) -> int:
    """How many decimals a limit may have: the currency's minor unit, or 3 for energy."""
    if budget_kind == BudgetKind.COST:
        return get_currency_precision(currency)
    return ENERGY_DECIMAL_PLACES
