"""Registration of utilities (tenants) and the keys their ID tokens are checked with."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from customers.identity import fetch_jwks, is_secure_url, signing_keys
from customers.models import Utility

# Members of a JWK that only a private key has (RFC 7518 section 6.2.2, 6.3.2 and 6.4).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class UtilityInvalid(Exception):
    """``add_utility`` input was refused; the message says why, in one line."""


def jwks_check(*, jwks: Any) -> None:
    """Refuses a JWKS login could never verify with, or one that leaks private keys.

    A usable key is one the ID-token verifier itself would pick (same selection rule), with an
    algorithm it accepts, so a registration that passes here can really log customers in.
    """
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise UtilityInvalid('a JWKS must be a JSON object with a "keys" list')
    if not all(isinstance(key, dict) for key in jwks["keys"]):
        raise UtilityInvalid("every JWKS key must be a JSON object")
    if any(_PRIVATE_MEMBERS & key.keys() for key in jwks["keys"]):
        raise UtilityInvalid("the JWKS holds private key material; give the public keys only")
    usable = [
        key
        for key in signing_keys(jwks, None)
        if key.algorithm_name in settings.IDENTITY_TOKEN_ALGORITHMS
    ]
    if not usable:
        allowed = "/".join(settings.IDENTITY_TOKEN_ALGORITHMS)
        raise UtilityInvalid(f"the JWKS has no usable {allowed} signing key")


def jwks_fetch_checked(*, url: str) -> None:
    """Fetches a JWKS URL once, so a typo or an unreachable host fails at registration."""
    if not is_secure_url(url):
        raise UtilityInvalid(f"JWKS URL {url!r} must be https (http only for localhost)")
    try:
        jwks = fetch_jwks(url)
    except (OSError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise UtilityInvalid(f"could not fetch the JWKS from {url}: {reason}") from None
    jwks_check(jwks=jwks)


def _one_line(error: ValidationError) -> str:
    return "; ".join(
        f"--{field.replace('_', '-')}: {message}"
        for field, messages in error.message_dict.items()
        for message in messages
    )


def utility_register(
    *,
    slug: str,
    name: str,
    issuer: str,
    audience: str,
    jwks: dict[str, Any] | None = None,
    jwks_url: str = "",
    currency: str | None = None,
    timezone: str | None = None,
) -> tuple[Utility, bool]:
    """Creates or updates the utility ``slug``; returns it and whether it was created.

    Keys come from exactly one source: a JWKS given inline, or a URL (fetched here once to
    check it, then fetched and cached by the verifier). Switching source forgets the other.
    ``currency``/``timezone`` left as None keep the stored value (or the default when new).
    """
    if (jwks is None) == (not jwks_url):
        raise UtilityInvalid("give exactly one of a JWKS file or a JWKS URL")
    if not is_secure_url(issuer) or urlsplit(issuer).query or urlsplit(issuer).fragment:
        raise UtilityInvalid(
            f"issuer {issuer!r} must be an https URL without query or fragment "
            "(http only for localhost)"
        )
    if jwks is not None:
        jwks_check(jwks=jwks)
    else:
        jwks_fetch_checked(url=jwks_url)

    with transaction.atomic():
        utility = Utility.objects.select_for_update().filter(slug=slug).first()
        created = utility is None
        if utility is None:
            utility = Utility(slug=slug)
        holder = Utility.objects.filter(issuer=issuer).exclude(slug=slug).first()
        if holder is not None:
            raise UtilityInvalid(f"issuer {issuer!r} is already registered by {holder.slug!r}")
        utility.name = name
        utility.issuer = issuer
        utility.audience = audience
        utility.jwks = jwks
        utility.jwks_url = jwks_url
        if currency is not None:
            utility.currency = currency
        if timezone is not None:
            utility.timezone = timezone
        try:
            utility.full_clean()
        except ValidationError as exc:
            raise UtilityInvalid(_one_line(exc)) from None
        utility.save()
    return utility, created


def jwks_load(*, path: str) -> Any:
    """Reads a JWKS file; any unreadable or non-JSON file is refused in one line."""
    try:
        with open(path, "rb") as handle:
            return json.load(handle)
    except OSError as exc:
        raise UtilityInvalid(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UtilityInvalid(f"{path} is not valid JSON: {exc}") from None
