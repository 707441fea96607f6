"""What usage does when an app below it announces a change (connected in ``UsageConfig``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from django.dispatch import receiver

from customers.models import Meter
from customers.signals import meter_basis_changed
from usage.calendar import local_date_start, zone
from usage.models import RollupDirtyRange
from usage.rollups import rollups_spans
from usage.tasks import rollups_catch_up


@receiver(meter_basis_changed, dispatch_uid="usage.rollups_recompute_meters")
def rollups_recompute_meters(
    *, meter_ids: set[Any], since: dict[Any, date] | None = None, **_: Any
) -> None:
    """These meters' rollups were computed on a basis that changed (tariff, its prices or the
    tariff history, time zone, interval, billing cycle day): their span (from the local date
    in ``since``, else whole) is marked dirty in the sender's own transaction, so the change
    cannot be lost, and caught up by a worker after commit (at once in the embedded default,
    where tasks run eagerly), follow-ups included."""
    spans = rollups_spans(meter_ids=meter_ids)
    for instant, ids in _instants(since or {}).items():
        spans.update(rollups_spans(meter_ids=ids, since=instant))
    for meter_id, (start, end) in spans.items():
        RollupDirtyRange.objects.create(meter_id=meter_id, start=start, end=end)
        rollups_catch_up.delay_on_commit(str(meter_id), start.isoformat(), end.isoformat())


def _instants(since: dict[Any, date]) -> dict[datetime, list[Any]]:
    """Meters grouped by the first instant of their local date (one span query per instant)."""
    zones = dict(Meter.objects.filter(pk__in=since).values_list("pk", "timezone"))
    grouped: dict[datetime, list[Any]] = defaultdict(list)
    for meter_id, day in since.items():
        if meter_id in zones:
            grouped[local_date_start(zone(zones[meter_id]), day)].append(meter_id)
    return grouped
