"""A real Celery worker (PostgreSQL + Redis) delivers the webhook of an import: the import
queues rollups, the worker catches them up and writes the event in that transaction, then
delivers it to the partner's receiver on loopback, signed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from demo.partner import WebhookReceiver
from partners.models import WebhookEvent, WebhookEventStatus
from tests.conftest import client_for
from tests.partners.conftest import authorize, register
from tests.tcp_proxy import free_port
from tests.usage.test_worker import (  # noqa: F401 (the fixtures)
    celery_worker_process,
    worker_factory,
)

RECEIVER_PORT = free_port()
#: Only bounds waits for the worker; never measures it.
WORKER_DEADLINE_SECONDS = 90


@pytest.mark.worker
def test_a_real_worker_delivers_the_signed_webhook_of_an_import(
    celery_worker_process,  # noqa: F811
    alice,
    tmp_path,
):
    app = register("acme", "SolarCo", webhook_url=f"http://127.0.0.1:{RECEIVER_PORT}/hooks")
    authorize(client_for(alice), app, scope="usage:read")
    receiver = WebhookReceiver(secret=app.credentials.webhook_secret)
    first = datetime(2026, 3, 7, 5, tzinfo=UTC)
    path = tmp_path / "readings.csv"
    path.write_text(
        "meterNumber,start,quantity\n"
        + "".join(
            f"E-ALICE-1,{(first + i * timedelta(minutes=15)).isoformat()},0.5\n" for i in range(8)
        )
    )

    with receiver.running(RECEIVER_PORT):
        call_command("import_readings", str(path), verbosity=0)
        if (
            not receiver.arrived.wait(WORKER_DEADLINE_SECONDS)
            or celery_worker_process.poll() is not None
        ):
            log = (tmp_path / "worker.log").read_text()[-4000:]
            pytest.fail(f"no webhook from the worker; its log:\n{log}")

    [request] = receiver.received
    assert request["verified"]
    assert request["payload"]["type"] == "usage.available"
    assert request["payload"]["data"]["start"] == "2026-03-07T00:00:00-05:00"
    event = WebhookEvent.objects.get()
    assert request["headers"]["webhook-id"] == event.header_id
    # The worker records the delivery once the receiver has answered, after it arrived here.
    deadline = time.monotonic() + WORKER_DEADLINE_SECONDS
    while event.status == WebhookEventStatus.PENDING and time.monotonic() < deadline:
        time.sleep(0.05)
        event.refresh_from_db()
    assert event.status == WebhookEventStatus.DELIVERED
