"""Our side of django-oauth-toolkit: tokens that say what they are, and consents behind them.

DOT validates clients (hashed secrets), PKCE, redirect URIs and refresh-token rotation; this
validator adds what only we know: the consent (:class:`~partners.models.Authorization`) a
code was issued for, that a revoked consent or a deactivated customer issues nothing more,
and that a code used twice revokes the consent (RFC 6749 section 4.1.2).
"""

from __future__ import annotations

import secrets

from django.db.models import Q
from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from partners.models import Authorization, AuthorizationCode, AuthorizationToken
from partners.services import authorization_revoke

#: Partner tokens carry a prefix: the API tells them from customer JWTs without a query, and
#: secret scanners recognise a leaked one.
ACCESS_TOKEN_PREFIX = "egp_at_"  # noqa: S105 (a prefix, not a secret)
REFRESH_TOKEN_PREFIX = "egp_rt_"  # noqa: S105


def access_token_generator(request, refresh_token: bool = False) -> str:
    return ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)


def refresh_token_generator(request, refresh_token: bool = False) -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


def _usable(authorization: Authorization | None) -> bool:
    return (
        authorization is not None
        and authorization.revoked_at is None
        and authorization.customer.active
    )


class PartnerOAuth2Validator(OAuth2Validator):
    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        grant = (
            AuthorizationCode.objects.select_related("authorization__customer")
            .filter(code=code, application=client)
            .first()
        )
        if grant is None:
            return False
        if grant.used_at is not None:
            authorization_revoke(authorization=grant.authorization)
            return False
        if grant.is_expired() or not _usable(grant.authorization):
            return False
        request.scopes = grant.scope.split()
        request.user = client.user
        request.partner_authorization = grant.authorization
        return True

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        """Marks the code used (it stays, so a replay is recognised). Losing a race with a
        concurrent exchange of the same code counts as a replay."""
        used = AuthorizationCode.objects.filter(
            code=code, application=request.client, used_at=None
        ).update(used_at=timezone.now())
        if not used:
            authorization_revoke(authorization=request.partner_authorization)
            raise errors.InvalidGrantError(request=request)

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        issued = request.refresh_token_instance
        # Its access token, or (a retry within the grace period) the one it was rotated into.
        link = (
            AuthorizationToken.objects.select_related("authorization__customer")
            .filter(
                Q(access_token_id=issued.access_token_id)
                | Q(access_token__source_refresh_token=issued)
            )
            .first()
        )
        authorization = link.authorization if link else None
        if not _usable(authorization):
            return False
        request.partner_authorization = authorization
        return True

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = super()._create_access_token(
            expires, request, token, source_refresh_token=source_refresh_token
        )
        AuthorizationToken.objects.create(
            authorization=request.partner_authorization, access_token=access_token
        )
        return access_token
