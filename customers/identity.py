"""Verification of the OIDC ID tokens utilities issue to their customers (contract section 2).

Every failure raises :class:`IdentityTokenInvalid` with no hint of which check refused it; the
reason goes to the debug log only (never the token itself).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Customer, UsedIdentityToken, Utility

logger = logging.getLogger(__name__)

_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
# The algorithm a key may verify is decided by the key, never by the token's header.
_ALGORITHM_FOR_KEY_TYPE = {"RSA": "RS256", "EC": "ES256"}
_JWKS_REFETCH_AFTER_SECONDS = 60
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class IdentityTokenInvalid(Exception):
    """The ID token was refused; deliberately carries no detail for the client."""


def _refuse(reason: str) -> IdentityTokenInvalid:
    logger.info("identity token refused: %s", reason)
    return IdentityTokenInvalid()


def is_secure_url(url: str) -> bool:
    """https, or plain http to this machine only (a developer's local identity provider)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A JWKS URL is the document itself: a redirect (to any host, even the same one) is
    refused, so a registered URL can never be bounced to an internal address (SSRF)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, "JWKS redirects are refused", headers, fp)


_OPENER = urllib.request.build_opener(_NoRedirects)


def fetch_jwks(url: str) -> dict[str, Any]:
    """GETs a JWKS document with a timeout, following no redirect; only https (or http on
    loopback) is allowed."""
    if not is_secure_url(url):
        raise ValueError("JWKS URL must be https")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with _OPENER.open(request, timeout=settings.JWKS_FETCH_TIMEOUT_SECONDS) as response:
        return json.loads(response.read(1024 * 1024))


def jwks_failure_backoff(failures: int) -> int:
    """Seconds no fetch of a failing JWKS URL is tried after ``failures`` failures in a row:
    doubling from ``JWKS_FAILURE_BACKOFF_SECONDS`` up to ``JWKS_FAILURE_BACKOFF_MAX_SECONDS``."""
    first, most = settings.JWKS_FAILURE_BACKOFF_SECONDS, settings.JWKS_FAILURE_BACKOFF_MAX_SECONDS
    return min(most, first * 2 ** min(failures - 1, 16))


def _jwks_for(utility: Utility, *, refresh: bool = False) -> dict[str, Any]:
    """The utility's JWKS: stored, or fetched and cached. A failing URL is not fetched again
    until its backoff has passed (an IdP outage must not cost every login a timeout); meanwhile
    the last good keys, if any, still verify."""
    if not utility.jwks_url:
        return utility.jwks or {"keys": []}
    cache_key = f"jwks:{utility.pk}:{hashlib.sha256(utility.jwks_url.encode()).hexdigest()[:16]}"
    cached = cache.get(cache_key)
    if cached and not (refresh and time.time() - cached["at"] > _JWKS_REFETCH_AFTER_SECONDS):
        return cached["jwks"]
    failure_key = f"{cache_key}:failing"
    failing = cache.get(failure_key)
    if failing and time.time() < failing["until"]:
        if cached:
            return cached["jwks"]
        raise _refuse(f"JWKS of {utility.slug} failing; not refetched until its backoff ends")
    try:
        jwks = fetch_jwks(utility.jwks_url)
    except (OSError, ValueError) as exc:
        failures = (failing["failures"] if failing else 0) + 1
        cache.set(
            failure_key,
            {"failures": failures, "until": time.time() + jwks_failure_backoff(failures)},
            settings.JWKS_CACHE_SECONDS,
        )
        if cached:
            return cached["jwks"]
        raise _refuse(f"JWKS fetch failed for {utility.slug}: {type(exc).__name__}") from exc
    cache.delete(failure_key)
    cache.set(cache_key, {"at": time.time(), "jwks": jwks}, settings.JWKS_CACHE_SECONDS)
    return jwks


def signing_keys(jwks: dict[str, Any], kid: str | None) -> list[jwt.PyJWK]:
    keys = []
    for data in jwks.get("keys", []):
        if data.get("use", "sig") != "sig" or data.get("kty") not in _ALGORITHM_FOR_KEY_TYPE:
            continue
        if kid is not None and data.get("kid") != kid:
            continue
        try:
            keys.append(jwt.PyJWK(data))
        except jwt.PyJWTError:
            continue
    return keys


def _signing_keys(utility: Utility, kid: str | None) -> list[jwt.PyJWK]:
    keys = signing_keys(_jwks_for(utility), kid)
    if not keys and utility.jwks_url:
        # The utility may have rotated keys since we cached its JWKS.
        keys = signing_keys(_jwks_for(utility, refresh=True), kid)
    return keys


def _decode(raw: str, utility: Utility, key: jwt.PyJWK) -> dict[str, Any]:
    algorithm = _ALGORITHM_FOR_KEY_TYPE[key.key_type]
    if algorithm not in settings.IDENTITY_TOKEN_ALGORITHMS:
        raise jwt.InvalidAlgorithmError(algorithm)
    claims = jwt.decode(
        raw,
        key=key.key,
        algorithms=[algorithm],
        audience=utility.audience,
        issuer=utility.issuer,
        leeway=settings.IDENTITY_TOKEN_LEEWAY_SECONDS,
        options={"require": _REQUIRED_CLAIMS},
    )
    issued_at = claims["iat"]
    if not isinstance(issued_at, int | float) or issued_at > (
        time.time() + settings.IDENTITY_TOKEN_LEEWAY_SECONDS
    ):
        raise jwt.ImmatureSignatureError("iat in the future")
    expires_at = claims["exp"]
    if not isinstance(expires_at, int | float) or (
        expires_at - issued_at > settings.IDENTITY_TOKEN_MAX_LIFETIME_SECONDS
    ):
        # A token valid for weeks is a leaked token waiting to be replayed elsewhere.
        raise jwt.InvalidTokenError("lifetime longer than allowed")
    return claims


def verify_identity_token(raw: str) -> Customer:
    """The active, enrolled customer an ID token names, after every check has passed.

    The token is consumed: a second call with the same token is refused.
    """
    try:
        header = jwt.get_unverified_header(raw)
        issuer = jwt.decode(raw, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError as exc:
        raise _refuse("malformed") from exc
    if header.get("alg") not in settings.IDENTITY_TOKEN_ALGORITHMS:
        raise _refuse(f"algorithm {header.get('alg')!r} not allowed")
    if not isinstance(issuer, str):
        raise _refuse("no issuer")
    utility = Utility.objects.filter(issuer=issuer).first()
    if utility is None:
        raise _refuse("unknown issuer")

    kid = header.get("kid")
    claims = None
    for key in _signing_keys(utility, kid if isinstance(kid, str) else None):
        try:
            claims = _decode(raw, utility, key)
            break
        except jwt.PyJWTError as exc:
            logger.debug("identity token check failed: %s", type(exc).__name__)
    if claims is None:
        raise _refuse("no key verified the token or a claim check failed")

    customer = (
        Customer.objects.select_related("utility")
        .filter(utility=utility, subject=str(claims["sub"]), active=True)
        .first()
    )
    if customer is None:
        raise _refuse("subject not enrolled or inactive")
    _consume(utility, raw, claims)
    return customer


def _consume(utility: Utility, raw: str, claims: dict[str, Any]) -> None:
    """Remembers the token until it expires; a second use violates the unique constraint."""
    jti = claims.get("jti")
    token_key = (
        f"jti:{jti}"[:128]
        if isinstance(jti, str) and jti
        else "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
    )
    leeway = settings.IDENTITY_TOKEN_LEEWAY_SECONDS
    expires_at = datetime.fromtimestamp(float(claims["exp"]) + leeway, tz=UTC)
    try:
        with transaction.atomic():
            UsedIdentityToken.objects.create(
                utility=utility, token_key=token_key, expires_at=expires_at
            )
    except IntegrityError as exc:
        raise _refuse("replayed") from exc


def purge_expired_identity_tokens() -> int:
    deleted, _ = UsedIdentityToken.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
