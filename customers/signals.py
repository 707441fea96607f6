"""Signals customers sends for the apps built on it, which it does not import."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.dispatch import Signal

#: Sent inside the transaction that changed what meters' rollups are computed from besides
#: their readings, so usage marks them for recompute (contract section 10.3). ``meter_ids``
#: (a set of meter ids): their whole span changed (the meter's time zone or interval, a price
#: of a tariff they use, their account's billing cycle day). ``since`` (meter id -> local
#: date in the meter's time zone): only from that date on (a change of the tariff history).
meter_basis_changed = Signal()

#: Meter fields the rollups of a meter depend on over their whole span (its tariffs change
#: them from a date: see :mod:`customers.history`).
METER_BASIS_FIELDS = ("timezone", "interval_seconds", "read_resolution", "bidirectional")


def meters_basis_changed(
    *, sender: type, meter_ids: set, since: dict[Any, date] | None = None
) -> None:
    """Sends :data:`meter_basis_changed` when there is any meter to tell about; a meter in
    ``meter_ids`` is left out of ``since``, its whole span being marked already."""
    since = {key: day for key, day in (since or {}).items() if key not in meter_ids}
    if meter_ids or since:
        meter_basis_changed.send(sender=sender, meter_ids=meter_ids, since=since)
