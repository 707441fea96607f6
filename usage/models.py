"""Meter data: raw interval readings and the rollups precomputed from them.

On PostgreSQL ``usage_reading`` is range-partitioned by ``start`` (one partition per UTC month
plus a DEFAULT one), created by migration 0001 in SQL; Django's model is the logical view of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from customers.models import Meter
from metadata.catalog import Granularity


class Quality(models.TextChoices):
    """How a reading was obtained (VEE): measured, or filled in by the utility."""

    ACTUAL = "ACTUAL", "Actual"
    ESTIMATED = "ESTIMATED", "Estimated"


class Direction(models.IntegerChoices):
    """Which way a reading's energy flowed; the values are ESPI's ``flowDirection`` codes."""

    DELIVERED = 1, "Delivered (grid to customer)"
    RECEIVED = 19, "Received (customer to grid)"


#: Granularities kept as rollups; FIFTEEN_MINUTE is served straight from readings.
ROLLUP_GRANULARITIES: tuple[Granularity, ...] = tuple(
    g for g in Granularity if g is not Granularity.FIFTEEN_MINUTE
)


class Reading(models.Model):
    """The energy one meter measured in one direction over ``[start, start +
    meter.interval_seconds)`` (or ``[start, end)`` for a billing-read meter).

    The primary key is the natural key ``(meter, direction, start)``, the one imports upsert
    on (it holds ``start``, as a partitioned table's key must): one B-tree per row, no
    surrogate id or sequence to maintain. A model with a composite key has no Django admin, so
    staff see a meter's readings on a page of the meter's admin (``usage.admin``).
    """

    pk = models.CompositePrimaryKey("meter", "direction", "start")
    meter = models.ForeignKey(
        Meter,
        on_delete=models.CASCADE,
        related_name="readings",
        db_index=False,  # the primary key leads with meter_id
        # No database FK: checking it cost one trigger per row of every import (15 % of it).
        # Readings are only written by usage.imports, which finds every meter and locks it
        # for the write; deleting a meter deletes its readings through Django's CASCADE.
        db_constraint=False,
        help_text="The meter that measured it.",
    )
    start = models.DateTimeField(
        help_text="Start of the interval (UTC instant); the reading covers "
        "[start, start + meter.interval_seconds)."
    )
    end = models.DateTimeField(
        null=True,
        blank=True,
        help_text="End of the read period (UTC, exclusive) for a billing-read meter; null for "
        "an interval meter (start + interval_seconds).",
    )
    direction = models.PositiveSmallIntegerField(
        choices=Direction.choices,
        default=Direction.DELIVERED,
        db_default=Direction.DELIVERED,
        help_text="DELIVERED (1, grid to customer) or RECEIVED (19, customer to grid).",
    )
    quantity = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        help_text="Energy (or volume) measured in the interval in its direction, in the meter's "
        "unit_of_measure; a delta, never a register value. Non-negative.",
    )
    cost = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Cost the utility billed for the interval (for a RECEIVED reading: the credit "
        "it earned, positive), in the tariff's currency, unrounded. Null: price it with the "
        "meter's tariff history (usage.pricing).",
    )
    quality = models.CharField(
        max_length=9,
        choices=Quality.choices,
        default=Quality.ACTUAL,
        help_text="ACTUAL (measured) or ESTIMATED (filled in by the utility's VEE).",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0), name="usage_reading_quantity_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id} @ {self.start:%Y-%m-%dT%H:%M}Z: {self.quantity}"


class Rollup(models.Model):
    """Totals of one meter's readings over one bucket of its local calendar.

    Precomputed by ``usage.rollups`` so reads at HOUR and coarser never touch raw readings.
    A bucket with no readings has no row. Every figure is an exact, unrounded aggregate of the
    readings whose ``start`` lies in ``[start, end)``: ``quantity`` ... ``peak_quantity`` of the
    DELIVERED ones, ``received_*`` of the RECEIVED ones (all zero on a meter that only
    delivers). NET = delivered - received (``NET_QUANTITY``, ``NET_COST``).

    For a billing-read meter the rows are its read periods themselves, as BILLING_PERIOD.

    Keyed by its bucket, ``(meter, granularity, start)``: one B-tree per row written, no
    surrogate id or sequence (a rebuild writes a meter-year's 9,000 HOUR rows at once). A model
    with a composite key has no Django admin: staff see a meter's rollups on a page of the
    meter's admin (``usage.admin``).
    """

    pk = models.CompositePrimaryKey("meter", "granularity", "start")
    meter = models.ForeignKey(
        Meter,
        on_delete=models.CASCADE,
        related_name="rollups",
        db_index=False,  # the primary key (meter, granularity, start) leads with meter_id
        # No database FK: its deferred check ran one trigger per row at commit (100 ms of a
        # meter-year's rebuild). Rollups are only written by usage.rollups, for a meter it has
        # loaded and locked; deleting a meter deletes its rollups through Django's CASCADE.
        db_constraint=False,
    )
    granularity = models.CharField(
        max_length=16,
        choices=[(g.name, g.value.name) for g in ROLLUP_GRANULARITIES],
        help_text="Bucket size: a metadata.catalog.Granularity name (HOUR ... BILLING_PERIOD).",
    )
    start = models.DateTimeField(
        help_text="UTC instant the bucket begins: a local boundary in the meter's timezone "
        "(local midnight for DAY, Monday for WEEK, the billing cycle day for BILLING_PERIOD)."
    )
    end = models.DateTimeField(
        help_text="UTC instant the bucket ends (exclusive) = the next bucket's start. "
        "end - start is the bucket's real length (a DST day is 23 or 25 hours)."
    )
    quantity = models.DecimalField(
        max_digits=22,
        decimal_places=6,
        help_text="Sum of the readings' quantities, in the meter's unit_of_measure.",
    )
    cost = models.DecimalField(
        max_digits=28,
        decimal_places=12,
        null=True,
        blank=True,
        help_text="Sum of the readings' costs (own cost, else quantity x tariff price), "
        "unrounded, in the tariff's currency. Null when any reading in the bucket has no "
        "cost and no tariff rate prices it.",
    )
    actual_count = models.PositiveIntegerField(help_text="Readings in the bucket that are ACTUAL.")
    estimated_count = models.PositiveIntegerField(
        help_text="Readings in the bucket that are ESTIMATED."
    )
    expected_count = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        help_text="Intervals the bucket's real duration holds: (end - start) / "
        "meter.interval_seconds (96 for a 24 h day of 15-minute data, 92 for a 23 h one). "
        "coverage = (actual_count + estimated_count) / expected_count.",
    )
    peak_quantity = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        help_text="Largest single interval quantity in the bucket; peak demand (kW) = "
        "peak_quantity / interval hours for energy units.",
    )
    received_quantity = models.DecimalField(
        max_digits=22,
        decimal_places=6,
        default=0,
        db_default=0,
        help_text="Sum of the RECEIVED readings' quantities (energy exported).",
    )
    received_cost = models.DecimalField(
        max_digits=28,
        decimal_places=12,
        null=True,
        blank=True,
        default=0,
        db_default=0,
        help_text="Credit the RECEIVED readings earned (own cost, else quantity x export "
        "price), positive, unrounded. Null when any of them has no price.",
    )
    received_actual_count = models.PositiveIntegerField(
        default=0, db_default=0, help_text="RECEIVED readings in the bucket that are ACTUAL."
    )
    received_estimated_count = models.PositiveIntegerField(
        default=0, db_default=0, help_text="RECEIVED readings in the bucket that are ESTIMATED."
    )
    received_peak_quantity = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        default=0,
        db_default=0,
        help_text="Largest single RECEIVED interval quantity in the bucket.",
    )
    computed_at = models.DateTimeField(help_text="When this row was last (re)computed.")

    def __str__(self) -> str:
        return f"{self.meter_id} {self.granularity} {self.start:%Y-%m-%dT%H:%M}Z"


#: A rollup's figures, in the order code that reads or writes them in bulk uses.
ROLLUP_FIGURES = (
    "end",
    "quantity",
    "cost",
    "actual_count",
    "estimated_count",
    "expected_count",
    "peak_quantity",
    "received_quantity",
    "received_cost",
    "received_actual_count",
    "received_estimated_count",
    "received_peak_quantity",
)

#: A rollup's net figures (delivered - received) as expressions: what budgets, summaries and
#: insights count. NET_COST is null when either side has an unpriced reading.
NET_QUANTITY = models.F("quantity") - models.F("received_quantity")
NET_COST = models.F("cost") - models.F("received_cost")


@dataclass(frozen=True)
class Channel:
    """One direction's figures on a rollup row: DELIVERED's are the plain columns
    (``quantity``...), RECEIVED's the same names with ``received_`` in front."""

    direction: Direction
    prefix: str

    def of(self, name: str) -> str:
        """This channel's column (or SQL alias) ``name``: ``received_cost`` for RECEIVED."""
        return self.prefix + name

    @property
    def quantity(self) -> str:
        return self.of("quantity")

    @property
    def cost(self) -> str:
        return self.of("cost")

    @property
    def actual_count(self) -> str:
        return self.of("actual_count")

    @property
    def estimated_count(self) -> str:
        return self.of("estimated_count")

    @property
    def peak_quantity(self) -> str:
        return self.of("peak_quantity")

    @property
    def columns(self) -> tuple[str, ...]:
        """Its five figures, in the order rollups write them."""
        return (
            self.quantity,
            self.cost,
            self.actual_count,
            self.estimated_count,
            self.peak_quantity,
        )

    @property
    def has_readings(self) -> models.Q:
        """Rollups in which this channel has readings."""
        return models.Q(**{f"{self.actual_count}__gt": 0}) | models.Q(
            **{f"{self.estimated_count}__gt": 0}
        )


DELIVERED_CHANNEL = Channel(Direction.DELIVERED, "")
RECEIVED_CHANNEL = Channel(Direction.RECEIVED, "received_")


class RollupDirtyRange(models.Model):
    """Readings of ``meter`` in ``[start, end)`` changed and its rollups have not caught up yet.

    Written in the same transaction as the readings, so a lost or failed catch-up task is
    never lost work: the periodic sweep (``usage.tasks.rollups_sweep``) picks up what is left.
    """

    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField(help_text="First changed reading's start (UTC).")
    end = models.DateTimeField(help_text="End of the last changed reading (UTC, exclusive).")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.meter_id} [{self.start:%Y-%m-%d %H:%M}, {self.end:%Y-%m-%d %H:%M})"


class RollupState(models.Model):
    """What ``meter``'s rollups were last rebuilt in full from, besides its readings.

    ``rebuild_rollups`` skips a meter whose basis is unchanged and that has no dirty range left:
    every change of its readings since records a dirty range in its own transaction.
    """

    meter = models.OneToOneField(
        Meter, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    basis = models.CharField(
        max_length=64,
        help_text="SHA-256 of the time zone, interval, billing cycle day and tariff prices.",
    )
    rebuilt_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.meter_id} rebuilt {self.rebuilt_at:%Y-%m-%d %H:%M}"


class RollupRevision(models.Model):
    """How many times ``meter``'s rollups were written. ``usage.rollups.rollups_refresh``
    increments it in the transaction that writes them, so a rendered Usage page kept under
    the revision it was read at (``usage.rendering.page_cache``) is never served after its
    rollups changed. The meter lookup of every Usage read joins it: no query of its own."""

    meter = models.OneToOneField(
        Meter, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    revision = models.PositiveBigIntegerField(default=0)
    items_basis = models.CharField(
        max_length=128,
        default="",
        db_default="",
        help_text="What the meter's RenderedDay items were rendered under "
        "(usage.rendering.day_items_basis); empty before any.",
    )

    def __str__(self) -> str:
        return f"{self.meter_id} revision {self.revision}"


class RenderedDay(models.Model):
    """The item a Usage page at DAY shows for one of ``meter``'s DAY rollups, as JSON, in the
    NET direction (the default; on a meter that only delivers, DELIVERED too).

    ``usage.rollups`` writes them with the rollups, in the same transaction, under the basis
    recorded in ``RollupRevision.items_basis`` (time zone, unit, interval, directions, billing
    currency and the renderer's version): a DAY page is then a range scan of ready items
    instead of the rollups' figures converted and formatted on every read. A read whose
    basis differs (the customer's currency changed, say) renders from the rollups as before.
    Like a rollup, a bucket with no readings has no row.
    """

    pk = models.CompositePrimaryKey("meter", "start")
    meter = models.ForeignKey(
        Meter,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the primary key (meter, start) leads with meter_id
        db_constraint=False,  # written only by usage.rollups, for a meter it has locked
    )
    start = models.DateTimeField(help_text="UTC instant the DAY bucket begins.")
    item = models.TextField(help_text="The page item's JSON (contract section 5).")

    def __str__(self) -> str:
        return f"{self.meter_id} DAY @ {self.start:%Y-%m-%dT%H:%M}Z"
