"""``add_partner``: register a partner app (an OAuth client of one utility) and print its
secrets, once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from energygrid.commands import OpsCommand
from partners.services import PartnerInvalid, partner_register


class Command(OpsCommand):
    help = (
        "Registers a partner app of a utility (a confidential OAuth client) and prints its "
        "client_id, client_secret and webhook secret once; re-run to update it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--utility", required=True, help="The utility's slug.")
        parser.add_argument("--name", required=True, help="The partner app's name.")
        parser.add_argument(
            "--redirect-uri",
            action="append",
            required=True,
            dest="redirect_uris",
            help="Where customers are sent back with the code (https; repeat for several).",
        )
        parser.add_argument("--webhook-url", help="Where events are POSTed (https).")
        parser.add_argument(
            "--rotate-secret",
            action="store_true",
            help="Replace the client secret and the webhook secret (the old ones stop working).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            partner, credentials = partner_register(
                utility_slug=options["utility"],
                name=options["name"],
                redirect_uris=options["redirect_uris"],
                webhook_url=options["webhook_url"],
                rotate_secret=options["rotate_secret"],
            )
        except PartnerInvalid as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"partner {partner.name!r} of utility {partner.utility.slug!r}")
        self.stdout.write(f"client_id={credentials.client_id}")
        if credentials.client_secret:
            self.stdout.write(f"client_secret={credentials.client_secret}")
        if credentials.webhook_secret:
            self.stdout.write(f"webhook_secret={credentials.webhook_secret}")
        if credentials.client_secret or credentials.webhook_secret:
            self.stdout.write("Store the secrets now: they are not shown again.")
