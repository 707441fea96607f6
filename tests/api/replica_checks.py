"""Run by tests/api/test_replica.py in a pytest of its own, with ``DATABASE_REPLICA_URL`` set:
the "replica" alias then mirrors the test database (``TEST: {"MIRROR": "default"}``)."""

from __future__ import annotations

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext

from customers.models import Meter
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


def test_reads_go_to_the_replica_and_writes_to_the_primary(alice):
    assert Meter.objects.all().db == "replica"
    alice.display_name = "Alice R."
    alice.save()
    assert alice._state.db == "default"
    with transaction.atomic():
        assert Meter.objects.all().db == "default"  # a transaction reads its own writes


def test_an_api_read_runs_on_the_replica(alice):
    client = client_for(alice)
    meter = alice.accounts.get().meters.get()
    url = f"/usage/v1/Usage/{meter.pk}?granularity=DAY&start=2026-03-01&end=2026-03-08"

    with (
        CaptureQueriesContext(connections["replica"]) as replica,
        CaptureQueriesContext(connections["default"]) as primary,
    ):
        response = client.get(url)

    assert response.status_code == 200
    assert any("usage_rollup" in query["sql"] for query in replica.captured_queries)
    assert any("customers_meter" in query["sql"] for query in replica.captured_queries)
    assert primary.captured_queries == []
