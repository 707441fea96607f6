"""Property: for random bidirectional readings in random time zones, under a tariff that
changes and an optional export tariff, every granularity's DELIVERED, RECEIVED and NET totals
(quantity and cost) equal the sums over the readings, priced by an independent oracle: in the
rollups exactly, and through ``GET /Usage`` to the rounding of its items."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer, Tariff, TariffPeriod, TariffRate, Weekday
from tests.conftest import client_for
from usage.models import Direction, Quality, Reading, Rollup
from usage.rollups import rollup_granularities, rollups_rebuild

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "UTC",
]
SLOTS = 3 * 96  # three days of 15-minute intervals
GRANULARITIES = ["FIFTEEN_MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "BILLING_PERIOD"]
#: The API rounds each item: quantity to 3 decimals, money to the cent.
ITEM_ROUNDING = {"quantity": Decimal("0.0005"), "cost": Decimal("0.005")}

readings = st.dictionaries(
    keys=st.tuples(
        st.integers(0, SLOTS - 1), st.sampled_from([Direction.DELIVERED, Direction.RECEIVED])
    ),
    values=st.tuples(
        st.decimals(min_value=0, max_value=5, places=3, allow_nan=False),
        st.sampled_from([Quality.ACTUAL, Quality.ESTIMATED]),
        st.one_of(st.none(), st.decimals(min_value=0, max_value=2, places=2, allow_nan=False)),
    ),
    min_size=1,
    max_size=60,
)


def tariff(acme, code: str, rates: list[tuple[str, int, int, int]]) -> Tariff:
    made = Tariff.objects.create(utility=acme, code=code, name=code, currency="USD")
    for position, (price, weekdays, from_hour, to_hour) in enumerate(rates):
        TariffRate.objects.create(
            tariff=made,
            position=position,
            price=price,
            weekdays=weekdays,
            from_hour=from_hour,
            to_hour=to_hour,
        )
    return made


def oracle_price(chosen: Tariff, local: datetime) -> Decimal:
    """Contract section 8, read straight off the rates: the first that applies."""
    for rate in chosen.rates.order_by("position"):
        if rate.applies(local.isoweekday(), local.hour):
            return rate.price
    raise AssertionError("every hour is priced in this test")


def scenario(acme, new_meter, zone, first_day, change_after, with_export_tariff, rows):
    """A bidirectional meter with ``rows`` of readings; the (quantity, cost) each direction
    should total, by the contract's pricing rule read straight off the tariffs."""
    peak = Weekday.MON | Weekday.TUE | Weekday.WED | Weekday.THU | Weekday.FRI
    n = Tariff.objects.count()
    old = tariff(acme, f"OLD-{n}", [("0.31", peak, 16, 21), ("0.12", 127, 0, 24)])
    new = tariff(acme, f"NEW-{n}", [("0.25", 127, 0, 24)])
    export = tariff(acme, f"EXP-{n}", [("0.05", 127, 0, 24)])
    meter = new_meter(
        timezone=zone,
        tariff=new if change_after is not None else old,
        export_tariff=export if with_export_tariff else None,
        bidirectional=True,
    )
    change = None
    if change_after is not None:
        change = first_day + timedelta(days=change_after)
        TariffPeriod.objects.create(meter=meter, tariff=old, valid_from=None)
        TariffPeriod.objects.create(meter=meter, tariff=new, valid_from=change)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    Reading.objects.bulk_create(
        Reading(
            meter=meter,
            start=start + timedelta(minutes=15 * slot),
            direction=direction,
            quantity=quantity,
            quality=quality,
            cost=own_cost,
        )
        for (slot, direction), (quantity, quality, own_cost) in rows.items()
    )
    tz = ZoneInfo(zone)
    zero = (Decimal(0), Decimal(0))
    expected = {Direction.DELIVERED: zero, Direction.RECEIVED: zero}
    for (slot, direction), (quantity, _, own_cost) in rows.items():
        local = (start + timedelta(minutes=15 * slot)).astimezone(tz)
        if direction == Direction.RECEIVED and with_export_tariff:
            chosen = export
        else:
            chosen = new if change is not None and local.date() >= change else old
        cost = own_cost if own_cost is not None else quantity * oracle_price(chosen, local)
        total = expected[direction]
        expected[direction] = (total[0] + quantity, total[1] + cost)
    rollups_rebuild(meter=meter)
    return meter, expected


examples = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
scenarios = given(
    zone=st.sampled_from(ZONES),
    first_day=st.dates(date(2026, 3, 5), date(2026, 11, 5)),
    change_after=st.one_of(st.none(), st.integers(0, 3)),
    with_export_tariff=st.booleans(),
    rows=readings,
)


@examples
@scenarios
def test_every_granularity_sums_each_direction_and_net_is_their_difference(
    new_meter, acme, either_path, zone, first_day, change_after, with_export_tariff, rows
):
    meter, expected = scenario(
        acme, new_meter, zone, first_day, change_after, with_export_tariff, rows
    )

    for granularity in rollup_granularities(meter):
        buckets = Rollup.objects.filter(meter=meter, granularity=granularity.name)
        delivered = (sum(b.quantity for b in buckets), sum(b.cost for b in buckets))
        received = (
            sum(b.received_quantity for b in buckets),
            sum(b.received_cost for b in buckets),
        )
        net = (
            sum(b.quantity - b.received_quantity for b in buckets),
            sum(b.cost - b.received_cost for b in buckets),
        )
        assert delivered == expected[Direction.DELIVERED], granularity
        assert received == expected[Direction.RECEIVED], granularity
        assert net == tuple(d - r for d, r in zip(delivered, received, strict=True))
        assert sum(b.actual_count + b.estimated_count for b in buckets) == sum(
            1 for key in rows if key[1] == Direction.DELIVERED
        )
        assert sum(b.received_actual_count + b.received_estimated_count for b in buckets) == sum(
            1 for key in rows if key[1] == Direction.RECEIVED
        )


@examples
@scenarios
def test_through_the_api_every_granularity_and_direction_totals_the_readings(
    new_meter, acme, zone, first_day, change_after, with_export_tariff, rows
):
    meter, expected = scenario(
        acme, new_meter, zone, first_day, change_after, with_export_tariff, rows
    )
    expected[None] = tuple(
        d - r
        for d, r in zip(expected[Direction.DELIVERED], expected[Direction.RECEIVED], strict=True)
    )
    client = client_for(Customer.objects.get(pk=meter.account.customer_id))
    window = {
        "start": (first_day - timedelta(days=1)).isoformat(),
        "end": (first_day + timedelta(days=5)).isoformat(),
    }

    for granularity in GRANULARITIES:
        for direction, key in (
            ("DELIVERED", Direction.DELIVERED),
            ("RECEIVED", Direction.RECEIVED),
            ("NET", None),
        ):
            query = {"granularity": granularity, "direction": direction, "pageSize": 1000, **window}
            response = client.get(f"/usage/v1/Usage/{meter.id}", query)
            assert response.status_code == 200, response.content
            items = response.json()["items"]
            for figure, index in (("quantity", 0), ("cost", 1)):
                total = sum(Decimal(str(item[figure])) for item in items)
                slack = ITEM_ROUNDING[figure] * len(items)
                assert abs(total - expected[key][index]) <= slack, (granularity, direction, figure)
            if key is None:
                for item in items:
                    assert abs(
                        Decimal(str(item["quantity"]))
                        - (Decimal(str(item["delivered"])) - Decimal(str(item["received"])))
                    ) <= Decimal("0.001"), (granularity, item)
