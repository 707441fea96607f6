"""The consent API on ``Customer`` and the OAuth token endpoint."""

from __future__ import annotations

import base64
import binascii
import json

from django.db import transaction
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from oauth2_provider.views.mixins import OAuthLibMixin
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from energygrid.api.pagination import KeysetPagination
from energygrid.api.throttling import LoginRateThrottle
from partners import selectors, services
from partners.serializers import (
    AuthorizationCreatedSerializer,
    AuthorizationInputSerializer,
    AuthorizationSerializer,
    OAuthErrorSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)


@extend_schema(tags=["Customer"])
class AuthorizationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The partner apps a customer let in: grant, list, revoke (customer tokens only)."""

    serializer_class = AuthorizationSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("-created_at", "-id")
    lookup_url_kwarg = "authorizationId"

    def get_queryset(self):
        return selectors.authorization_list(customer=self.request.user)

    @extend_schema(summary="Partner apps you have granted access")
    def list(self, request: Request) -> Response:
        return super().list(request)

    @extend_schema(
        summary="Grant a partner app access; returns where to send the customer with the code",
        request=AuthorizationInputSerializer,
        responses={201: AuthorizationCreatedSerializer},
    )
    def create(self, request: Request) -> Response:
        data = AuthorizationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        try:
            authorization, redirect_to = services.authorization_create(
                customer=request.user,
                client_id=body["clientId"],
                redirect_uri=body["redirectUri"],
                scope=body["scope"],
                state=body.get("state"),
                code_challenge=body["codeChallenge"],
                code_challenge_method=body["codeChallengeMethod"],
                account_ids=body.get("accountIds"),
            )
        except services.AuthorizationRefused as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}, code=exc.code) from None
        return Response(
            AuthorizationCreatedSerializer(
                {"id": authorization.pk, "redirectTo": redirect_to}
            ).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Revoke a grant: every token issued under it stops working at once",
        parameters=[OpenApiParameter("authorizationId", OpenApiTypes.UUID, "path")],
        responses={204: None},
    )
    def destroy(self, request: Request, authorizationId: str) -> Response:
        services.authorization_revoke(authorization=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _invalid_request(description: str) -> HttpResponse:
    """RFC 6749 section 5.2 ``invalid_request``, in OAuth's own JSON."""
    body = json.dumps({"error": "invalid_request", "error_description": description})
    return HttpResponse(body, status=400, content_type="application/json")


def _carries_nul(request: Request) -> bool:
    """Whether a form field or the HTTP Basic credentials hold a NUL character, which no client
    id, secret, code or token has (and which PostgreSQL text cannot store)."""
    form = request._request.POST  # what django-oauth-toolkit reads, not DRF's parsers
    if any("\x00" in value for _name, values in form.lists() for value in values):
        return True
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        return b"\x00" in base64.b64decode(credentials, validate=False)
    except binascii.Error:
        return False


class TokenView(OAuthLibMixin, APIView):
    """RFC 6749 token endpoint, served by django-oauth-toolkit: it alone answers OAuth's own
    JSON (section 5.1 and 5.2 errors) rather than problem details."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]
    parser_classes = [FormParser]

    @extend_schema(
        tags=["OAuth"],
        summary="Exchange an authorization code (PKCE) or a refresh token for partner tokens",
        description="Client authentication: HTTP Basic, or client_id and client_secret in the "
        "form. A code works once, within 60 seconds; a second use revokes the grant.",
        request={"application/x-www-form-urlencoded": TokenRequestSerializer},
        responses={
            200: TokenSerializer,
            (400, "application/json"): OpenApiResponse(
                OAuthErrorSerializer, "RFC 6749 section 5.2 error (e.g. invalid_grant)."
            ),
            (401, "application/json"): OpenApiResponse(
                OAuthErrorSerializer, "invalid_client: the client did not authenticate."
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> HttpResponse:
        try:
            if _carries_nul(request):
                return _invalid_request("NUL in a parameter.")
        except MultiPartParserError:
            return _invalid_request("Malformed form body.")
        # In a transaction, so every read is the primary's (energygrid.routers): a code or
        # refresh token issued a moment ago is not on a lagging replica yet.
        with transaction.atomic():
            _url, headers, body, status_code = self.create_token_response(request._request)
        response = HttpResponse(body, status=status_code, content_type="application/json")
        for name, value in headers.items():
            response[name] = value
        return response
