"""Bearer authentication for partner tokens (contract section 11.1).

The principal is the customer who consented, narrowed to the accounts of the grant
(``Customer.granted_account_ids``, which every customer-scoped selector honours);
``request.auth`` is the :class:`~partners.selectors.PartnerAccess`. Which endpoints the token
may call is decided by :class:`partners.access.PartnerScopePermission`.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from energygrid.api.throttling import BadTokenRateThrottle
from metadata.catalog import PartnerScope
from partners.access import required_scope
from partners.oauth import ACCESS_TOKEN_PREFIX
from partners.selectors import partner_access
from partners.services import authorization_touch


class PartnerTokenAuthentication(BaseAuthentication):
    """Takes bearer tokens with our partner prefix and leaves every other token alone."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        if not parts[1].startswith(ACCESS_TOKEN_PREFIX.encode()):
            return None
        access = partner_access(token=parts[1].decode("ascii", "replace"))
        if access is None:
            BadTokenRateThrottle.count_refusal(request)
            raise AuthenticationFailed("Token is invalid")
        customer = access.authorization.customer
        customer.granted_account_ids = access.account_ids
        authorization_touch(authorization=access.authorization)
        return customer, access

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="energygrid"'


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "partners.authentication.PartnerTokenAuthentication"
    name = "partnerOAuth"

    def get_security_requirement(self, auto_schema):
        """The scope the operation needs; none (omitted) where partner tokens are refused."""
        scope = required_scope(auto_schema.view, auto_schema.method)
        return {self.name: [scope]} if scope else None

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "description": "A partner app's access token: the customer consents in their own "
            "app (POST /usage/v1/Customer/authorizations), the partner exchanges the code at "
            "POST /oauth/token (PKCE S256). It reaches the endpoints its scopes cover, for the "
            "granted accounts only.",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "/usage/v1/Customer/authorizations",
                    "tokenUrl": "/oauth/token",
                    "refreshUrl": "/oauth/token",
                    "scopes": {scope.value.id: scope.value.description for scope in PartnerScope},
                }
            },
        }
