"""Shapes of the consent API (camelCase, contract section 11.1) and of the OAuth token
endpoint (OAuth's own snake_case, RFC 6749 section 5)."""

from __future__ import annotations

from rest_framework import serializers

from metadata.catalog import PARTNER_SCOPE_IDS
from partners.models import Authorization

_SCOPE = "|".join(PARTNER_SCOPE_IDS)


class PatternField(serializers.RegexField):
    """A string matching ``regex``, stated in the schema too (``schema_rules``)."""

    def __init__(self, regex: str, **kwargs):
        super().__init__(regex, **kwargs)
        self.schema_rules = {"pattern": regex}


class AuthorizationInputSerializer(serializers.Serializer):
    clientId = serializers.CharField(max_length=100)
    redirectUri = serializers.CharField(max_length=500)
    scope = PatternField(
        rf"^({_SCOPE})( ({_SCOPE}))*$",
        max_length=200,
        help_text="Space-separated ids from /Metadata/partner-scopes.",
    )
    state = serializers.CharField(
        max_length=500, required=False, help_text="Returned unchanged in redirectTo."
    )
    codeChallenge = PatternField(
        r"^[A-Za-z0-9_-]{43}$", help_text="PKCE: BASE64URL(SHA-256(code_verifier)), 43 characters."
    )
    codeChallengeMethod = serializers.ChoiceField(choices=["S256"], help_text="`S256` only.")
    accountIds = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        min_length=1,
        max_length=100,
        help_text="Accounts the partner may see; default: all of yours.",
    )


class AuthorizationCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The grant; also the ESPI subscriptionId.")
    redirectTo = serializers.CharField(
        help_text="redirectUri with `code` (valid once, for 60 seconds) and `state` added."
    )


class _PartnerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class AuthorizationSerializer(serializers.ModelSerializer):
    partner = _PartnerSerializer()
    accountIds = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)

    class Meta:
        model = Authorization
        fields = ["id", "partner", "scope", "accountIds", "createdAt", "lastUsedAt"]

    def get_accountIds(self, authorization: Authorization) -> list[str]:
        return sorted(str(account.pk) for account in authorization.accounts.all())


class TokenRequestSerializer(serializers.Serializer):
    """Form fields of POST /oauth/token (documentation only: DOT reads the form)."""

    grant_type = serializers.ChoiceField(choices=["authorization_code", "refresh_token"])
    code = serializers.CharField(required=False, help_text="authorization_code: the code.")
    redirect_uri = serializers.CharField(
        required=False, help_text="authorization_code: the redirectUri the consent named."
    )
    code_verifier = serializers.CharField(
        required=False, help_text="authorization_code: the PKCE verifier (43-128 characters)."
    )
    refresh_token = serializers.CharField(required=False, help_text="refresh_token: the token.")
    client_id = serializers.CharField(required=False, help_text="Unless sent with HTTP Basic.")
    client_secret = serializers.CharField(required=False, help_text="Unless sent with HTTP Basic.")


class TokenSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds the access token lives.")
    refresh_token = serializers.CharField(help_text="Rotates: each use returns a new one.")
    scope = serializers.CharField()


class OAuthErrorSerializer(serializers.Serializer):
    error = serializers.ChoiceField(
        choices=[
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
        ]
    )
    error_description = serializers.CharField(required=False)
