"""Rollups and pricing of the meters of contract section 10: both directions kept apart, credit
at the export tariff (or the import one), tariff history by local date, read periods."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from customers.models import Customer, Tariff, TariffPeriod, TariffRate
from tests.conftest import client_for
from usage.models import Direction, Reading, Rollup
from usage.pricing import priced_readings
from usage.rollups import rollups_rebuild, rollups_refresh

from .conftest import ACTUAL, ESTIMATED

RECEIVED = Direction.RECEIVED


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def flat(acme, code: str, price: str) -> Tariff:
    tariff = Tariff.objects.create(utility=acme, code=code, name=code, currency="USD")
    TariffRate.objects.create(
        tariff=tariff, position=0, price=price, weekdays=127, from_hour=0, to_hour=24
    )
    return tariff


def write(meter, rows) -> None:
    """Rows of (start, quantity, direction, quality[, end]) straight into the table."""
    Reading.objects.bulk_create(
        Reading(
            meter=meter,
            start=row[0],
            quantity=Decimal(row[1]),
            direction=row[2],
            quality=row[3],
            end=row[4] if len(row) > 4 else None,
        )
        for row in rows
    )


def rollup(meter, granularity: str, start: datetime) -> Rollup:
    return Rollup.objects.get(meter=meter, granularity=granularity, start=start)


def test_received_energy_is_kept_apart_and_earns_the_export_tariff(new_meter, acme, either_path):
    meter = new_meter(
        timezone="UTC",
        tariff=flat(acme, "IMP", "0.30"),
        export_tariff=flat(acme, "EXP", "0.05"),
        bidirectional=True,
    )
    write(
        meter,
        [
            (utc(2026, 6, 1, 12), "1.0", Direction.DELIVERED, ACTUAL),
            (utc(2026, 6, 1, 12), "3.0", RECEIVED, ACTUAL),
            (utc(2026, 6, 1, 12, 15), "2.0", RECEIVED, ESTIMATED),
            (utc(2026, 6, 1, 13), "0.5", Direction.DELIVERED, ACTUAL),
        ],
    )
    rollups_rebuild(meter=meter)

    hour = rollup(meter, "HOUR", utc(2026, 6, 1, 12))
    assert (hour.quantity, hour.cost, hour.actual_count, hour.peak_quantity) == (
        1,
        Decimal("0.3"),
        1,
        1,
    )
    assert (
        hour.received_quantity,
        hour.received_cost,
        hour.received_actual_count,
        hour.received_estimated_count,
        hour.received_peak_quantity,
    ) == (5, Decimal("0.25"), 1, 1, 3)
    day = rollup(meter, "DAY", utc(2026, 6, 1))
    assert (day.quantity, day.cost) == (Decimal("1.5"), Decimal("0.45"))
    assert (day.received_quantity, day.received_cost) == (5, Decimal("0.25"))
    only_delivered = rollup(meter, "HOUR", utc(2026, 6, 1, 13))
    assert (only_delivered.received_quantity, only_delivered.received_cost) == (0, 0)


def test_without_an_export_tariff_received_energy_earns_the_import_rate(
    new_meter, acme, either_path
):
    meter = new_meter(timezone="UTC", tariff=flat(acme, "IMP", "0.30"), bidirectional=True)
    write(meter, [(utc(2026, 6, 1, 12), "2.0", RECEIVED, ACTUAL)])
    rollups_rebuild(meter=meter)

    hour = rollup(meter, "HOUR", utc(2026, 6, 1, 12))
    assert (hour.quantity, hour.cost, hour.actual_count) == (0, 0, 0)
    assert (hour.received_quantity, hour.received_cost) == (2, Decimal("0.6"))


def test_a_meter_that_is_not_bidirectional_counts_no_received_readings(
    new_meter, acme, either_path
):
    meter = new_meter(timezone="UTC", tariff=flat(acme, "IMP", "0.30"))
    write(
        meter,
        [
            (utc(2026, 6, 1, 12), "1.0", Direction.DELIVERED, ACTUAL),
            (utc(2026, 6, 1, 12), "9.0", RECEIVED, ACTUAL),
        ],
    )
    rollups_rebuild(meter=meter)

    day = rollup(meter, "DAY", utc(2026, 6, 1))
    assert (day.quantity, day.received_quantity, day.received_cost) == (1, 0, 0)
    assert [r.direction for r in priced_readings(meter=meter, lo=day.start, hi=day.end)] == [1]


def test_each_interval_is_priced_by_the_tariff_in_force_on_its_local_date(
    new_meter, acme, either_path
):
    old, new = flat(acme, "OLD", "0.10"), flat(acme, "NEW", "0.20")
    meter = new_meter(timezone="America/New_York", tariff=new)
    TariffPeriod.objects.create(meter=meter, tariff=old, valid_from=None)
    TariffPeriod.objects.create(meter=meter, tariff=new, valid_from=date(2026, 3, 1))
    # 23:45 and 00:00 local either side of the change (UTC-5 in February and March 1st).
    write(
        meter,
        [
            (utc(2026, 3, 1, 4, 45), "1", Direction.DELIVERED, ACTUAL),
            (utc(2026, 3, 1, 5, 0), "1", Direction.DELIVERED, ACTUAL),
            (utc(2025, 1, 1, 5, 0), "1", Direction.DELIVERED, ACTUAL),
        ],
    )

    costs = [r.cost for r in priced_readings(meter=meter, lo=utc(2025, 1, 1), hi=utc(2026, 4, 1))]
    assert costs == [Decimal("0.1"), Decimal("0.1"), Decimal("0.2")]
    rollups_rebuild(meter=meter)
    assert rollup(meter, "DAY", utc(2026, 2, 28, 5)).cost == Decimal("0.1")
    assert rollup(meter, "DAY", utc(2026, 3, 1, 5)).cost == Decimal("0.2")
    assert rollup(meter, "MONTH", utc(2026, 2, 1, 5)).cost == Decimal("0.1")


def test_the_first_history_entry_also_prices_what_came_before_it(new_meter, acme):
    first, second = flat(acme, "A", "0.10"), flat(acme, "B", "0.20")
    meter = new_meter(timezone="UTC", tariff=second)
    TariffPeriod.objects.create(meter=meter, tariff=first, valid_from=date(2026, 1, 1))
    TariffPeriod.objects.create(meter=meter, tariff=second, valid_from=date(2026, 6, 1))
    write(meter, [(utc(2025, 12, 31, 12), "1", Direction.DELIVERED, ACTUAL)])

    assert [
        r.cost for r in priced_readings(meter=meter, lo=utc(2025, 1, 1), hi=utc(2027, 1, 1))
    ] == [Decimal("0.1")]


def test_an_export_tariff_history_prices_received_energy_by_date(new_meter, acme):
    meter = new_meter(
        timezone="UTC",
        tariff=flat(acme, "IMP", "0.30"),
        export_tariff=flat(acme, "EXP2", "0.04"),
        bidirectional=True,
    )
    TariffPeriod.objects.create(
        meter=meter, export=True, tariff=flat(acme, "EXP1", "0.08"), valid_from=None
    )
    TariffPeriod.objects.create(
        meter=meter, export=True, tariff=meter.export_tariff, valid_from=date(2026, 5, 1)
    )
    write(
        meter,
        [
            (utc(2026, 4, 30, 12), "1", RECEIVED, ACTUAL),
            (utc(2026, 5, 1, 12), "1", RECEIVED, ACTUAL),
            (utc(2026, 5, 1, 12), "1", Direction.DELIVERED, ACTUAL),
        ],
    )
    rollups_rebuild(meter=meter)

    assert rollup(meter, "DAY", utc(2026, 4, 30)).received_cost == Decimal("0.08")
    may_first = rollup(meter, "DAY", utc(2026, 5, 1))
    assert (may_first.cost, may_first.received_cost) == (Decimal("0.3"), Decimal("0.04"))


def test_a_change_of_history_changes_the_rollup_basis(new_meter, acme):
    old, new = flat(acme, "OLD", "0.10"), flat(acme, "NEW", "0.20")
    meter = new_meter(timezone="UTC", tariff=new)
    write(meter, [(utc(2026, 3, 5, 12), "1", Direction.DELIVERED, ACTUAL)])
    assert rollups_rebuild(meter=meter, skip_unchanged=True)
    assert not rollups_rebuild(meter=meter, skip_unchanged=True)

    TariffPeriod.objects.create(meter=meter, tariff=old, valid_from=None)
    TariffPeriod.objects.create(meter=meter, tariff=new, valid_from=date(2026, 4, 1))
    assert rollups_rebuild(meter=meter, skip_unchanged=True)
    assert rollup(meter, "DAY", utc(2026, 3, 5)).cost == Decimal("0.1")


def test_a_billing_read_meters_rollups_are_its_read_periods(new_gas_meter, acme, either_path):
    meter = new_gas_meter(timezone="America/Chicago", tariff=flat(acme, "GAS", "1.25"))
    periods = [
        (utc(2026, 1, 5, 6), utc(2026, 2, 4, 6), "80"),
        (utc(2026, 2, 4, 6), utc(2026, 3, 9, 6), "65.5"),
        (utc(2026, 4, 1, 5), utc(2026, 4, 28, 5), "30"),  # after a gap
    ]
    write(meter, [(lo, q, Direction.DELIVERED, ACTUAL, hi) for lo, hi, q in periods])
    rollups_rebuild(meter=meter)

    rows = Rollup.objects.filter(meter=meter).order_by("start")
    assert [(r.granularity, r.start, r.end, r.quantity, r.cost) for r in rows] == [
        ("BILLING_PERIOD", lo, hi, Decimal(q), Decimal(q) * Decimal("1.25"))
        for lo, hi, q in periods
    ]
    assert {(r.actual_count, r.expected_count) for r in rows} == {(1, 1)}

    Reading.objects.filter(meter=meter, start=periods[1][0]).delete()
    rollups_rebuild(meter=meter)
    assert Rollup.objects.filter(meter=meter).count() == 2


def test_catch_up_of_one_received_hour_refreshes_the_coarser_buckets(new_meter, acme):
    meter = new_meter(timezone="UTC", tariff=flat(acme, "IMP", "0.30"), bidirectional=True)
    write(meter, [(utc(2026, 6, 1, 12), "1", Direction.DELIVERED, ACTUAL)])
    rollups_rebuild(meter=meter)
    write(meter, [(utc(2026, 6, 1, 12), "4", RECEIVED, ACTUAL)])
    rollups_refresh(meter=meter, start=utc(2026, 6, 1, 12), end=utc(2026, 6, 1, 12, 15))

    for granularity, start in (("DAY", utc(2026, 6, 1)), ("MONTH", utc(2026, 6, 1))):
        row = rollup(meter, granularity, start)
        assert (row.received_quantity, row.received_cost) == (4, Decimal("1.2"))
    assert Rollup.objects.get(meter=meter, granularity="WEEK").received_quantity == 4


@pytest.mark.parametrize("granularity", ["FIFTEEN_MINUTE", "HOUR", "DAY", "MONTH"])
def test_through_the_api_credit_is_at_the_export_tariff_or_else_the_import_one(
    new_meter, acme, granularity
):
    """Two solar meters exporting the same 4 kWh and drawing 1 kWh at 0.30: one credited at
    a 0.05 feed-in tariff, the other (no export tariff) at its import rate (net metering)."""
    importing = flat(acme, "IMP", "0.30")
    meters = {
        "feed-in": new_meter(
            timezone="UTC",
            tariff=importing,
            export_tariff=flat(acme, "EXP", "0.05"),
            bidirectional=True,
        ),
        "net metering": new_meter(timezone="UTC", tariff=importing, bidirectional=True),
    }
    client = client_for(Customer.objects.get(subject="alice"))
    credits = {}
    for name, meter in meters.items():
        write(
            meter,
            [
                (utc(2026, 6, 1, 12), "1.0", Direction.DELIVERED, ACTUAL),
                (utc(2026, 6, 1, 12), "4.0", RECEIVED, ACTUAL),
            ],
        )
        rollups_rebuild(meter=meter)
        window = {"granularity": granularity, "start": "2026-06-01", "end": "2026-06-02"}
        credits[name] = {
            direction: [
                (item["quantity"], item["cost"])
                for item in client.get(
                    f"/usage/v1/Usage/{meter.id}", {**window, "direction": direction}
                ).json()["items"]
            ]
            for direction in ("DELIVERED", "RECEIVED", "NET")
        }

    assert credits["feed-in"] == {
        "DELIVERED": [(1.0, "0.30")],
        "RECEIVED": [(4.0, "0.20")],
        "NET": [(-3.0, "0.10")],
    }
    assert credits["net metering"] == {
        "DELIVERED": [(1.0, "0.30")],
        "RECEIVED": [(4.0, "1.20")],
        "NET": [(-3.0, "-0.90")],
    }
