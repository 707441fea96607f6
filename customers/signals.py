"""Signals customers sends for the apps built on it, which it does not import."""

from __future__ import annotations

from django.dispatch import Signal

#: Sent (with ``meter_ids``, a set of meter ids) inside the transaction that changed what those
#: meters' rollups are computed from besides their readings: the meter's tariff, time zone or
#: interval, its tariff's rates, or its account's billing cycle day. Usage marks their rollups
#: for recompute (contract section 10.3).
meter_basis_changed = Signal()

#: Meter fields the rollups of a meter depend on.
METER_BASIS_FIELDS = ("tariff_id", "timezone", "interval_seconds")


def meters_basis_changed(*, sender: type, meter_ids: set) -> None:
    """Sends :data:`meter_basis_changed` when there is any meter to tell about."""
    if meter_ids:
        meter_basis_changed.send(sender=sender, meter_ids=meter_ids)
