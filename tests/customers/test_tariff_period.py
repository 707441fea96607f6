"""A meter's tariff history holds one entry per start date, and one "since the start" entry."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from customers.models import Meter, TariffPeriod
from tests.conftest import flat_tariff


@pytest.mark.parametrize("valid_from", [None, date(2026, 3, 1)])
def test_a_history_has_one_entry_per_start(alice, valid_from):
    meter = Meter.objects.get(meter_number="E-ALICE-1")
    tariff = flat_tariff(meter.utility)
    TariffPeriod.objects.create(meter=meter, tariff=tariff, valid_from=valid_from)
    TariffPeriod.objects.create(meter=meter, tariff=tariff, valid_from=valid_from, export=True)

    with pytest.raises(IntegrityError), transaction.atomic():
        TariffPeriod.objects.create(meter=meter, tariff=tariff, valid_from=valid_from)
