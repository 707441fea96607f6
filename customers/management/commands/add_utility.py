"""``add_utility``: register a utility (tenant) and the keys its ID tokens are checked with."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from customers.utilities import UtilityInvalid, jwks_load, utility_register
from energygrid.commands import OpsCommand


class Command(OpsCommand):
    help = "Registers a utility and the keys its ID tokens are checked with (re-run updates it)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--slug", required=True, help="Short name used by other commands.")
        parser.add_argument("--name", required=True, help="Display name.")
        parser.add_argument("--issuer", required=True, help="The `iss` of its ID tokens (URL).")
        parser.add_argument("--audience", required=True, help="The `aud` its ID tokens carry.")
        keys = parser.add_mutually_exclusive_group(required=True)
        keys.add_argument("--jwks-file", help="A JSON Web Key Set file with its public keys.")
        keys.add_argument("--jwks-url", help="Where its JWKS is published (https).")
        parser.add_argument("--currency", help="ISO 4217 code (default USD; re-runs keep it).")
        parser.add_argument("--timezone", help="IANA time zone (default UTC; re-runs keep it).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            jwks = jwks_load(path=options["jwks_file"]) if options["jwks_file"] else None
            utility, created = utility_register(
                slug=options["slug"],
                name=options["name"],
                issuer=options["issuer"],
                audience=options["audience"],
                jwks=jwks,
                jwks_url=options["jwks_url"] or "",
                currency=options["currency"],
                timezone=options["timezone"],
            )
        except UtilityInvalid as exc:
            raise CommandError(str(exc)) from None
        source = utility.jwks_url or f"{len(utility.jwks['keys'])} key(s) from a file"
        self.stdout.write(
            f"{'Registered' if created else 'Updated'} utility {utility.slug!r} "
            f"(issuer {utility.issuer}, audience {utility.audience}, JWKS {source})"
        )
