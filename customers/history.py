"""A meter's tariff history as its writers see it (contract section 10.3): which meters a
tariff prices, and from which local date a change of a history prices differently.

A channel's *schedule* is what prices it: its :class:`~customers.models.TariffPeriod` entries
as ``(valid_from, tariff_id)`` in ascending order, or, with no entries, the meter's tariff
(``export_tariff`` for the export channel) for all time. The first entry covers everything
before it, so its own ``valid_from`` never changes a price.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from django.db.models import Q, QuerySet

from customers.models import Meter

#: ``(valid_from, tariff_id)`` entries, ascending; ``valid_from`` null only on the first.
Schedule = Sequence[tuple[date | None, Any]]

#: What :func:`first_difference` answers for schedules that differ from the very start.
SINCE_ALWAYS = date.min


def meter_entries(meter: Meter, *, export: bool) -> list[tuple[date | None, Any]]:
    """The stored history of one channel of ``meter`` (``tariff_periods``, prefetched or not)."""
    return sorted(
        ((p.valid_from, p.tariff_id) for p in meter.tariff_periods.all() if p.export == export),
        key=lambda entry: entry[0] or date.min,
    )


def schedule(entries: Schedule, tariff_id: Any) -> Schedule:
    """What prices a channel with these history ``entries`` and this tariff now."""
    return entries or [(None, tariff_id)]


def _in_force(schedule: Schedule, day: date) -> Any:
    tariff_id = schedule[0][1]
    for valid_from, entry_tariff_id in schedule[1:]:
        if valid_from > day:
            break
        tariff_id = entry_tariff_id
    return tariff_id


def first_difference(old: Schedule, new: Schedule) -> date | None:
    """The first local date from which ``new`` prices differently from ``old``:
    :data:`SINCE_ALWAYS` when they differ from the start, None when they never do."""
    changes = {valid_from for schedule in (old, new) for valid_from, _ in schedule[1:]}
    for day in sorted({SINCE_ALWAYS, *changes}):
        if _in_force(old, day) != _in_force(new, day):
            return day
    return None


def meters_priced_by(tariff_ids: Iterable[Any]) -> QuerySet[Meter]:
    """Meters whose figures any of ``tariff_ids`` prices: as their tariff or export tariff, or
    anywhere in their histories."""
    tariff_ids = list(tariff_ids)
    return Meter.objects.filter(
        Q(tariff_id__in=tariff_ids)
        | Q(export_tariff_id__in=tariff_ids)
        | Q(tariff_periods__tariff_id__in=tariff_ids)
    ).distinct()
