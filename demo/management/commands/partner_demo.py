"""``partner_demo``: plays the demo partner app against a running server, end to end."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from customers.keys import identity_token_issue
from customers.models import Customer, Meter
from demo.partner import DEMO_PORT, DemoPartner, WebhookReceiver, demo_partner_register
from demo.utility import DEMO_SLUG
from energygrid.celery import app as celery_app
from energygrid.commands import OpsCommand
from partners.webhooks import webhook_queues_due, webhooks_deliver
from usage.calendar import zone
from usage.models import Reading

_SCOPE = "usage:read insights:read espi"
_ONE_WH = Decimal("0.001")


class Command(OpsCommand):
    help = (
        "Plays the demo partner app against a running server (seed_demo first): the demo "
        "customer consents, the partner exchanges the code (PKCE) and reads usage, a reading "
        "correction lands and the partner's loopback receiver verifies the signed webhook, "
        "then the customer revokes the grant. Rotates the demo partner's secrets to play it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Where the API is served."
        )
        parser.add_argument("--subject", default="demo-0001", help="The consenting customer.")

    def handle(self, *args: Any, base_url: str, subject: str, **options: Any) -> None:
        customer = Customer.objects.filter(utility__slug=DEMO_SLUG, subject=subject).first()
        if customer is None:
            raise CommandError(f"no demo customer {subject!r}: run seed_demo first")
        credentials = demo_partner_register(utility_slug=DEMO_SLUG, rotate_secret=True)
        partner = DemoPartner(base_url=base_url, credentials=credentials)
        say = self.stdout.write
        try:
            customer_token = partner.customer_login(
                identity_token_issue(utility=customer.utility, subject=subject, ttl_seconds=60)
            )
        except requests.RequestException as exc:
            raise CommandError(
                f"cannot log in at {base_url} ({type(exc).__name__}); is the server running?"
            ) from None
        say(f"1. {subject} logged in to their utility app")

        grant_id, code, verifier = partner.consent(customer_token, _SCOPE)
        say(f"2. consent recorded: grant {grant_id} for {_SCOPE!r}; code back at the redirect")
        tokens = partner.exchange(code, verifier)
        say(
            f"3. code exchanged with PKCE: {tokens['token_type']} token for "
            f"{tokens['scope']!r}, {tokens['expires_in']} s, refresh token issued"
        )
        access = tokens["access_token"]
        meters = partner.get(access, "/usage/v1/Meters").json()["items"]
        meter = Meter.objects.get(pk=meters[0]["id"])
        end = timezone.localdate(timezone=zone(meter.timezone))
        usage = partner.get(
            access,
            f"/usage/v1/Usage/{meter.pk}",
            granularity="DAY",
            start=str(end - timedelta(days=3)),
            end=str(end),
        ).json()
        say(f"4. partner read meter {meter.meter_number}: {len(meters)} meter(s) granted")
        for item in usage["items"]:
            say(f"     {item['start'][:10]}  {item['quantity']} {usage['unitOfMeasure']}")
        refused = partner.get(access, "/usage/v1/Budgets")
        say(
            f"   /Budgets without budgets:read: {refused.status_code} "
            f"({refused.headers.get('WWW-Authenticate')})"
        )

        receiver = WebhookReceiver(secret=credentials.webhook_secret or "")
        with receiver.running(DEMO_PORT):
            self._correct_last_hour(meter)
            say(f"5. a correction of {meter.meter_number}'s last hour was imported")
            if celery_app.conf.task_always_eager:
                # No worker in the embedded demo: deliver as the periodic sweep would.
                for partner_id, key in webhook_queues_due(now=timezone.now()):
                    webhooks_deliver(partner_id=partner_id, ordering_key=key)
            elif not receiver.arrived.wait(60):
                raise CommandError("no webhook within 60 s: are a worker and beat running?")
        for request in receiver.received:
            payload = request["payload"]
            say(
                f"6. webhook {request['headers']['webhook-id']} {payload['type']} "
                f"signature {'verified' if request['verified'] else 'INVALID'}: "
                f"{payload['data']}"
            )

        revoked = requests.delete(
            f"{base_url.rstrip('/')}/usage/v1/Customer/authorizations/{grant_id}",
            headers={"Authorization": f"Bearer {customer_token}"},
            timeout=30,
        )
        after = partner.get(access, "/usage/v1/Meters")
        say(
            f"7. customer revoked the grant ({revoked.status_code}); partner read now: "
            f"{after.status_code}"
        )

    def _correct_last_hour(self, meter: Meter) -> None:
        """Re-imports the meter's last four readings, each 1 Wh higher (a utility correction)."""
        last = list(Reading.objects.filter(meter=meter).order_by("-start")[:4])
        lines = "".join(
            f"{meter.meter_number},{r.start.isoformat()},{r.quantity + Decimal('0.001'):f}\n"
            for r in reversed(last)
        )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "correction.csv"
            path.write_text("meterNumber,start,quantity\n" + lines)
            call_command("import_readings", str(path), verbosity=0)
