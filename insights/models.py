"""Insights: precomputed by workers, read by customers; reads never run a model."""

from __future__ import annotations

import uuid

from django.db import models

from customers.models import Account, Customer, Meter
from metadata.catalog import InsightType

INSIGHT_TYPE_CHOICES = [(t.name, t.value.name) for t in InsightType]


class Severity(models.TextChoices):
    INFO = "INFO", "Info"
    WARNING = "WARNING", "Warning"
    ALERT = "ALERT", "Alert"


class InsightStatus(models.TextChoices):
    NEW = "NEW", "New"
    READ = "READ", "Read"
    DISMISSED = "DISMISSED", "Dismissed"


#: The status ids alone, for the schema's shared enum (settings.SPECTACULAR_SETTINGS).
INSIGHT_STATUS_IDS = tuple(InsightStatus.values)


class Feedback(models.TextChoices):
    HELPFUL = "HELPFUL", "Helpful"
    NOT_HELPFUL = "NOT_HELPFUL", "Not helpful"


class Insight(models.Model):
    """One insight of one type about one subject (meter, account or budget threshold) for one
    period. Regenerating it updates this row in place: the unique constraint on
    (customer, type, subject_key, period_start) is what makes reruns idempotent, and
    ``status``/``feedback`` belong to the customer, so regeneration never touches them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="insights")
    type = models.CharField(max_length=32, choices=INSIGHT_TYPE_CHOICES)
    subject_key = models.CharField(
        max_length=200,
        help_text="What the insight is about, for uniqueness: 'meter:<id>', 'account:<id>', "
        "or 'budget:<id>:<threshold>' for BUDGET_ALERT.",
    )
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, null=True, blank=True, related_name="insights"
    )
    meter = models.ForeignKey(
        Meter, on_delete=models.CASCADE, null=True, blank=True, related_name="insights"
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.INFO)
    title = models.CharField(max_length=200)
    summary = models.TextField()
    data = models.JSONField(default=dict, help_text="Type-specific figures (see the schema).")
    status = models.CharField(
        max_length=9, choices=InsightStatus.choices, default=InsightStatus.NEW
    )
    feedback = models.CharField(
        max_length=11, choices=Feedback.choices, blank=True, help_text="Empty: none given."
    )
    generated_at = models.DateTimeField()
    model_version = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "type", "subject_key", "period_start"],
                name="insight_once_per_subject_period",
            )
        ]
        indexes = [
            models.Index(fields=["customer", "-period_end", "-id"], name="insight_customer_newest")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.subject_key} {self.period_start:%Y-%m-%d}"


class WeatherDay(models.Model):
    """One day's mean temperature in one weather region (``import_weather``, ``seed_demo``).

    A premise reaches its weather through ``Premise.weather_region``, and a meter's local date
    is the weather date: daily means are published per local calendar day of the region.
    """

    region = models.CharField(
        max_length=32, help_text="Weather region key, as Premise.weather_region names it."
    )
    date = models.DateField(help_text="Local calendar date of the region.")
    mean_temperature_c = models.DecimalField(
        max_digits=5, decimal_places=2, help_text="Daily mean temperature, °C."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["region", "date"], name="weather_day_region_date")
        ]

    def __str__(self) -> str:
        return f"{self.region} {self.date}: {self.mean_temperature_c} °C"


class MeterGroundTruth(models.Model):
    """What the synthetic generator put into a meter's data, for ``evaluate_insights`` to score
    the models against: the true always-on power and the days an anomaly was injected.

    Only synthetic (demo) meters have one; real meters have no ground truth.
    """

    meter = models.OneToOneField(
        Meter, on_delete=models.CASCADE, primary_key=True, related_name="ground_truth"
    )
    baseload_watts = models.FloatField(
        null=True, blank=True, help_text="True always-on power, W (null: not an energy meter)."
    )
    anomalies = models.JSONField(
        default=list,
        blank=True,
        help_text='Injected anomalous local days: [{"date": "YYYY-MM-DD", "excess": number}], '
        "excess in the meter's unit.",
    )
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "meter ground truth"

    def __str__(self) -> str:
        return f"ground truth of {self.meter_id}"
