"""Writes for partner access: registering partners, recording and revoking consents."""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, RefreshToken
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import add_params_to_uri, generate_token

from customers.identity import is_secure_url
from customers.models import Account, Customer, Utility
from metadata.catalog import PARTNER_SCOPE_IDS
from partners.models import Authorization, AuthorizationCode, Partner

#: RFC 7636 section 4.2: BASE64URL(SHA256(verifier)) is 43 characters.
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
#: How often a token's use is written to its consent's ``last_used_at``.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class PartnerInvalid(Exception):
    """``add_partner`` input was refused; the message says why, in one line."""


class AuthorizationRefused(Exception):
    """A consent request was refused: ``field`` (the body's key) and a message say why."""

    def __init__(self, field: str, message: str, code: str = "invalid"):
        super().__init__(message)
        self.field, self.message, self.code = field, message, code


@dataclass(frozen=True)
class Credentials:
    """Secrets shown once, when they are made: only their hash (client) or use stays."""

    client_id: str
    client_secret: str | None
    webhook_secret: str | None


def webhook_secret_generate() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _check_uri(uri: str, option: str) -> None:
    if not is_secure_url(uri):
        raise PartnerInvalid(f"{option} {uri!r} must be https (http only for localhost)")


@transaction.atomic
def partner_register(
    *,
    utility_slug: str,
    name: str,
    redirect_uris: list[str],
    webhook_url: str | None = None,
    rotate_secret: bool = False,
) -> tuple[Partner, Credentials]:
    """Registers a partner of a utility, or updates it (same utility and name).

    A new partner, or ``rotate_secret``, gets a new client secret and (with a webhook URL)
    webhook secret; a webhook URL given for the first time gets its secret too. Secrets are
    returned here only: the client secret is stored hashed.
    """
    utility = Utility.objects.filter(slug=utility_slug).first()
    if utility is None:
        raise PartnerInvalid(f"no utility {utility_slug!r} (add it with add_utility)")
    name = name.strip()
    if not name:
        raise PartnerInvalid("--name must not be empty")
    if not redirect_uris:
        raise PartnerInvalid("give at least one --redirect-uri")
    for uri in redirect_uris:
        _check_uri(uri, "--redirect-uri")
        if "#" in uri:
            raise PartnerInvalid(f"--redirect-uri {uri!r} must not have a fragment")
    if webhook_url:
        _check_uri(webhook_url, "--webhook-url")

    partner = Partner.objects.select_for_update().filter(utility=utility, name=name).first()
    client_secret = None
    if partner is None:
        client_secret = generate_client_secret()
        application = Application.objects.create(
            user=_service_user(),
            name=f"{utility.slug}: {name}"[:255],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            client_secret=client_secret,
            redirect_uris=" ".join(redirect_uris),
            skip_authorization=False,
        )
        partner = Partner(utility=utility, name=name, application=application)
    else:
        application = partner.application
        application.redirect_uris = " ".join(redirect_uris)
        if rotate_secret:
            client_secret = generate_client_secret()
            application.client_secret = client_secret
        application.save()
    if webhook_url is not None:
        partner.webhook_url = webhook_url
    webhook_secret = None
    if partner.webhook_url and (rotate_secret or not partner.webhook_secret):
        webhook_secret = partner.webhook_secret = webhook_secret_generate()
    partner.save()
    return partner, Credentials(application.client_id, client_secret, webhook_secret)


def _service_user():
    """An inactive Django user with no password, under which DOT files a partner's tokens."""
    user = get_user_model()(username=f"partner-{uuid.uuid4()}", is_active=False)
    user.set_unusable_password()
    user.save()
    return user


def _scopes(scope: str) -> list[str]:
    scopes = scope.split()
    unknown = [s for s in scopes if s not in PARTNER_SCOPE_IDS]
    if not scopes or unknown:
        raise AuthorizationRefused(
            "scope",
            f"Unknown scope {unknown[0]!r}." if unknown else "Name at least one scope.",
        )
    return sorted(set(scopes), key=PARTNER_SCOPE_IDS.index)


@transaction.atomic
def authorization_create(
    *,
    customer: Customer,
    client_id: str,
    redirect_uri: str,
    scope: str,
    state: str | None,
    code_challenge: str,
    code_challenge_method: str,
    account_ids: list[uuid.UUID] | None,
) -> tuple[Authorization, str]:
    """Records the customer's consent and issues its one authorization code (60 seconds).

    Returns the consent and the URI to send the customer back to (``redirect_uri`` with
    ``code`` and ``state``, RFC 6749 section 4.1.2). Every refusal names the body field; an
    unknown client and another utility's client are refused alike.
    """
    partner = (
        Partner.objects.select_related("application")
        .filter(application__client_id=client_id, utility_id=customer.utility_id)
        .first()
    )
    if partner is None:
        raise AuthorizationRefused("clientId", "No such client.", "not_found")
    if not partner.application.redirect_uri_allowed(redirect_uri):
        raise AuthorizationRefused(
            "redirectUri", "Not a redirect URI registered for the client.", "not_registered"
        )
    scopes = _scopes(scope)
    if code_challenge_method != "S256":
        raise AuthorizationRefused("codeChallengeMethod", "Only S256 is accepted.")
    if not _S256_CHALLENGE.fullmatch(code_challenge):
        raise AuthorizationRefused(
            "codeChallenge", "Must be the 43-character base64url SHA-256 of the code verifier."
        )
    own = Account.objects.filter(customer=customer)
    if account_ids is None:
        accounts = list(own)
    else:
        accounts = list(own.filter(pk__in=account_ids))
        if len(accounts) != len(set(account_ids)):
            raise AuthorizationRefused("accountIds", "No such account.", "not_found")
    if not accounts:
        raise AuthorizationRefused("accountIds", "Grant at least one account.")

    authorization = Authorization.objects.create(
        partner=partner, customer=customer, scope=" ".join(scopes)
    )
    authorization.accounts.set(accounts)
    code = generate_token()
    AuthorizationCode.objects.create(
        authorization=authorization,
        application=partner.application,
        user_id=partner.application.user_id,
        code=code,
        expires=timezone.now()
        + timedelta(seconds=oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS),
        redirect_uri=redirect_uri,
        scope=authorization.scope,
        code_challenge=code_challenge,
        code_challenge_method="S256",
    )
    params = [("code", code)] + ([("state", state)] if state else [])
    return authorization, add_params_to_uri(redirect_uri, params)


@transaction.atomic
def authorization_revoke(*, authorization: Authorization) -> None:
    """Ends the consent: its unused code, its refresh tokens and access tokens die now."""
    now = timezone.now()
    Authorization.objects.filter(pk=authorization.pk, revoked_at=None).update(revoked_at=now)
    authorization.revoked_at = authorization.revoked_at or now
    AuthorizationCode.objects.filter(authorization=authorization, used_at=None).update(used_at=now)
    RefreshToken.objects.filter(
        access_token__partner_link__authorization=authorization, revoked=None
    ).update(revoked=now)
    AccessToken.objects.filter(partner_link__authorization=authorization).delete()


def authorization_touch(*, authorization: Authorization) -> None:
    """Records that a token of the consent was used (at most once per resolution)."""
    now = timezone.now()
    if authorization.last_used_at and now - authorization.last_used_at < LAST_USED_RESOLUTION:
        return
    Authorization.objects.filter(pk=authorization.pk).update(last_used_at=now)
    authorization.last_used_at = now
