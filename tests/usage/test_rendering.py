"""The Usage page's column-wise rendering maths: energy rounding and money formatting."""

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energygrid.money import currency_places, format_money, format_moneys
from usage.rendering import _energies
from usage.selectors import _MONEY_SQL

MICROS = st.integers(min_value=-(10**15), max_value=10**15)
MINOR_UNIT_PLACES = {"USD": 2, "JPY": 0, "BHD": 3}


@given(st.lists(MICROS, max_size=50))
def test_energy_is_the_decimal_rounded_half_even_to_three_places(micros):
    expected = [float(Decimal(m).scaleb(-6).quantize(Decimal("0.001"))) for m in micros]

    assert _energies(micros) == expected


def test_energy_ties_round_to_even_and_a_tiny_negative_is_zero():
    energies = _energies([1_234_500, 1_235_500, -1_234_500, -2_500, -400])

    assert energies == [1.234, 1.236, -1.234, -0.002, 0.0]
    assert str(energies[-1]) == "0.0"  # not "-0.0"


@given(
    st.lists(st.integers(min_value=0, max_value=10**12), max_size=50),
    st.sampled_from([300, 900, 1800, 3600]),
    st.sampled_from(["1", "0.001"]),
)
def test_peak_demand_is_the_exact_scaled_energy_rounded_half_even(micros, interval, kw_per_unit):
    scale = Fraction(3600, interval) * Fraction(kw_per_unit)
    expected = [float(round(Fraction(m, 10**6) * scale, 3)) for m in micros]

    assert _energies(micros, scale) == expected


@given(
    st.lists(
        st.one_of(st.none(), st.decimals(min_value=-(10**9), max_value=10**9, places=12)),
        max_size=30,
    ),
    st.sampled_from(sorted(MINOR_UNIT_PLACES)),
)
def test_a_column_of_money_is_each_amount_rounded_half_up_to_the_minor_unit(amounts, currency):
    quantum = Decimal(1).scaleb(-MINOR_UNIT_PLACES[currency])
    rounded = [None if a is None else a.quantize(quantum, rounding=ROUND_HALF_UP) for a in amounts]
    expected = [None if r is None else str(r if r else r.copy_abs()) for r in rounded]

    assert format_moneys(amounts, currency) == expected
    assert [format_money(a, currency) for a in amounts] == expected


def test_money_has_no_negative_zero():
    assert format_moneys([Decimal("-0.004"), Decimal("-0.005"), Decimal("-0.0049")], "USD") == [
        "0.00",
        "-0.01",
        "0.00",
    ]
    assert format_money(Decimal("-0.4"), "JPY") == "0"


@pytest.mark.django_db
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(
    st.lists(st.decimals(min_value=-(10**9), max_value=10**9, places=12), max_size=30),
    st.sampled_from(sorted(MINOR_UNIT_PLACES)),
)
def test_postgresql_rounds_money_as_format_money_does(amounts, currency):
    """The Usage series has PostgreSQL format its costs (``_MONEY_SQL``): the same strings."""
    if connection.vendor not in _MONEY_SQL:
        pytest.skip("the database formats no money")
    money = _MONEY_SQL[connection.vendor].format(places=currency_places(currency))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {money.format('amount')} FROM unnest(%s::numeric[]) "  # noqa: S608
            "WITH ORDINALITY AS amounts (amount, position) ORDER BY position",
            [[str(a) for a in amounts]],
        )
        formatted = [row[0] for row in cursor.fetchall()]

    assert formatted == format_moneys(amounts, currency)
