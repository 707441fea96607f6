"""``issue_identity_token``: an ID token as the utility would issue it, for trying login."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from customers.keys import IdentityTokenUnavailable, identity_token_issue
from customers.models import Utility
from energygrid.commands import OpsCommand

_MAX_TTL_SECONDS = 3600


class Command(OpsCommand):
    help = (
        "Prints a fresh single-use ID token for a subject, signed with a utility key this "
        "install holds (the demo utility's). Exchange it at POST /usage/v1/Customer/login."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--utility", required=True, help="The utility's slug.")
        parser.add_argument("--subject", required=True, help="The customer's subject (`sub`).")
        parser.add_argument(
            "--ttl", type=int, default=300, help=f"Lifetime in seconds (1-{_MAX_TTL_SECONDS})."
        )

    def handle(self, *args: Any, utility: str, subject: str, ttl: int, **options: Any) -> None:
        if not 1 <= ttl <= _MAX_TTL_SECONDS:
            raise CommandError(f"--ttl must be between 1 and {_MAX_TTL_SECONDS} seconds")
        registered = Utility.objects.filter(slug=utility).first()
        if registered is None:
            raise CommandError(f"unknown utility {utility!r}")
        try:
            token = identity_token_issue(utility=registered, subject=subject, ttl_seconds=ttl)
        except IdentityTokenUnavailable as exc:
            raise CommandError(str(exc)) from None
        # The token alone on stdout, so `TOKEN=$(manage.py issue_identity_token ...)` works.
        self.stdout.write(token)
        self.stderr.write(f"ID token for {subject!r} at {utility!r}, valid {ttl} s, usable once")
