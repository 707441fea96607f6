"""The Usage page's column-wise rendering maths: energy rounding and money formatting."""

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from energygrid.money import format_money, format_moneys
from usage.rendering import _energies

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
    expected = [
        None if a is None else str(a.quantize(quantum, rounding=ROUND_HALF_UP)) for a in amounts
    ]

    assert format_moneys(amounts, currency) == expected
    assert [format_money(a, currency) for a in amounts] == expected
