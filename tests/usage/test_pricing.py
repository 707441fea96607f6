"""Tariff pricing (contract section 8): first matching rate on the local weekday and hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from customers.models import Tariff, TariffRate, Weekday
from usage.calendar import zone
from usage.models import Rollup
from usage.pricing import PriceSchedule, price_grid, priced_readings
from usage.rollups import rollups_rebuild

from .conftest import ACTUAL, write_readings


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def costs(meter, lo: datetime, hi: datetime) -> dict[datetime, Decimal | None]:
    return {r.start: r.cost for r in priced_readings(meter=meter, lo=lo, hi=hi)}


def test_time_of_use_costs_by_hand(new_meter, tou_tariff):
    meter = new_meter(timezone="America/New_York", tariff=tou_tariff)
    write_readings(
        meter,
        [
            (utc(2026, 3, 6, 20, 45), Decimal("1.000"), None, ACTUAL),  # Fri 15:45 EST: off-peak
            (utc(2026, 3, 6, 21, 0), Decimal("2.000"), None, ACTUAL),  # Fri 16:00 EST: peak
            (utc(2026, 3, 7, 1, 45), Decimal("1.000"), None, ACTUAL),  # Fri 20:45 EST: peak
            (utc(2026, 3, 7, 2, 0), Decimal("1.000"), None, ACTUAL),  # Fri 21:00 EST: off-peak
            (utc(2026, 3, 7, 21, 0), Decimal("4.000"), None, ACTUAL),  # Sat 16:00: weekend
            (utc(2026, 3, 9, 20, 0), Decimal("1.000"), None, ACTUAL),  # Mon 16:00 EDT: peak
            (utc(2026, 3, 9, 19, 45), Decimal("3.000"), Decimal("5.00"), ACTUAL),  # own cost
        ],
    )

    assert costs(meter, utc(2026, 3, 1), utc(2026, 3, 10)) == {
        utc(2026, 3, 6, 20, 45): Decimal("0.12"),
        utc(2026, 3, 6, 21, 0): Decimal("0.62"),
        utc(2026, 3, 7, 1, 45): Decimal("0.31"),
        utc(2026, 3, 7, 2, 0): Decimal("0.12"),
        utc(2026, 3, 7, 21, 0): Decimal("0.48"),
        utc(2026, 3, 9, 20, 0): Decimal("0.31"),
        utc(2026, 3, 9, 19, 45): Decimal("5.00"),
    }
    rollups_rebuild(meter=meter)
    tz = zone(meter.timezone)
    days = {
        row.start.astimezone(tz).date().isoformat(): row.cost
        for row in Rollup.objects.filter(meter=meter, granularity="DAY")
    }
    assert days == {
        "2026-03-06": Decimal("1.17"),
        "2026-03-07": Decimal("0.48"),
        "2026-03-09": Decimal("5.31"),
    }


def test_prices_follow_the_meters_own_zone(new_meter, tou_tariff):
    meter = new_meter(timezone="Asia/Kolkata", tariff=tou_tariff)
    write_readings(meter, [(utc(2026, 3, 4, 10, 30), Decimal("1"), None, ACTUAL)])  # Wed 16:00 IST

    assert costs(meter, utc(2026, 3, 4), utc(2026, 3, 5)) == {
        utc(2026, 3, 4, 10, 30): Decimal("0.31")
    }


def test_an_interval_no_rate_covers_has_no_cost_and_neither_has_its_bucket(new_meter, acme):
    weekdays_only = Tariff.objects.create(utility=acme, code="WD", name="Weekdays", currency="USD")
    TariffRate.objects.create(
        tariff=weekdays_only,
        position=0,
        price="0.20",
        weekdays=Weekday.MON | Weekday.TUE | Weekday.WED | Weekday.THU | Weekday.FRI,
        from_hour=0,
        to_hour=24,
    )
    meter = new_meter(timezone="UTC", tariff=weekdays_only)
    untariffed = new_meter(timezone="UTC", tariff=None)
    rows = [
        (utc(2026, 3, 6, 12), Decimal("1"), None, ACTUAL),  # Friday
        (utc(2026, 3, 7, 12), Decimal("1"), None, ACTUAL),  # Saturday: no rate
    ]
    write_readings(meter, rows)
    write_readings(
        untariffed, [*rows[:1], (utc(2026, 3, 7, 12), Decimal("1"), Decimal("9"), ACTUAL)]
    )

    assert list(costs(meter, utc(2026, 3, 1), utc(2026, 3, 9)).values()) == [Decimal("0.20"), None]
    assert list(costs(untariffed, utc(2026, 3, 1), utc(2026, 3, 9)).values()) == [None, Decimal(9)]
    rollups_rebuild(meter=meter)
    week = Rollup.objects.get(meter=meter, granularity="WEEK")
    friday = Rollup.objects.get(meter=meter, granularity="DAY", start=utc(2026, 3, 6))
    assert (week.quantity, week.cost, friday.cost) == (Decimal(2), None, Decimal("0.20"))


def test_database_pricing_matches_the_python_rule_every_hour_of_the_week(new_meter, acme):
    """Overlapping rates: the first listed wins. Checked for all 168 local hours, in a +12:45
    zone across its DST end, against the pure-Python grid."""
    tariff = Tariff.objects.create(utility=acme, code="CPX", name="Complex", currency="USD")
    for position, (price, weekdays, from_hour, to_hour) in enumerate(
        [
            ("0.50", Weekday.SAT | Weekday.SUN, 10, 14),
            ("0.40", Weekday.MON | Weekday.WED | Weekday.FRI, 7, 9),
            ("0.30", 127, 17, 22),
            ("0.10", 127, 0, 24),
        ]
    ):
        TariffRate.objects.create(
            tariff=tariff,
            position=position,
            price=price,
            weekdays=weekdays,
            from_hour=from_hour,
            to_hour=to_hour,
        )
    meter = new_meter(timezone="Pacific/Chatham", tariff=tariff)
    start = utc(2026, 4, 1)
    slots = [start + timedelta(minutes=15 * i) for i in range(8 * 96)]
    write_readings(meter, [(s, Decimal("1.5"), None, ACTUAL) for s in slots])

    grid = price_grid(tariff)
    assert len(grid) == 7 * 24
    schedule = PriceSchedule(meter.timezone, (grid,))
    expected = {s: schedule.cost(start=s, quantity=Decimal("1.5"), own_cost=None) for s in slots}
    assert costs(meter, start, slots[-1] + timedelta(minutes=15)) == expected
    saturday_noon = utc(2026, 4, 3, 23)  # Saturday 12:45 +13:45
    assert expected[saturday_noon] == Decimal("0.75")
