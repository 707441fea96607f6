"""What usage does when an app below it announces a change (connected in ``UsageConfig``)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from customers.signals import meter_basis_changed
from usage.models import RollupDirtyRange
from usage.rollups import rollups_spans
from usage.tasks import rollups_catch_up


@receiver(meter_basis_changed, dispatch_uid="usage.rollups_recompute_meters")
def rollups_recompute_meters(*, meter_ids: set[Any], **_: Any) -> None:
    """These meters' rollups were computed on a basis that changed (tariff or its prices, time
    zone, interval, billing cycle day): their whole span is marked dirty in the sender's own
    transaction, so the change cannot be lost, and caught up by a worker after commit (at
    once in the embedded default, where tasks run eagerly), follow-ups included."""
    for meter_id, (start, end) in rollups_spans(meter_ids=meter_ids).items():
        RollupDirtyRange.objects.create(meter_id=meter_id, start=start, end=end)
        rollups_catch_up.delay_on_commit(str(meter_id), start.isoformat(), end.isoformat())
