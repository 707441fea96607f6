from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import selectors, services
from customers.identity import IdentityTokenInvalid
from customers.serializers import (
    AccountSerializer,
    LoginInputSerializer,
    MeterFilterSerializer,
    MeterSerializer,
    ProfileSerializer,
    RefreshInputSerializer,
    SessionSerializer,
)
from energygrid.api.conditional import ETagRetrieveMixin, conditional_response
from energygrid.api.pagination import KeysetPagination
from energygrid.api.problems import TokenRefused
from energygrid.api.query import parse_query
from energygrid.api.schema import ETAG_HEADER, IF_NONE_MATCH, NOT_MODIFIED
from energygrid.api.throttling import LoginRateThrottle

_REFUSED = OpenApiResponse(
    description="`invalid-token`: the token was refused (one answer whatever the reason)."
)


def _input(serializer_class, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class _TokenExchangeView(APIView):
    """Public, login-throttled POST that trades a token in the body for a new session."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]
    input_serializer: type[serializers.Serializer]

    def exchange(self, data: dict) -> services.Session:
        raise NotImplementedError

    def post(self, request: Request) -> Response:
        try:
            session = self.exchange(_input(self.input_serializer, request))
        except (IdentityTokenInvalid, services.SessionInvalid):
            raise TokenRefused() from None
        return Response(SessionSerializer(session).data)


@extend_schema_view(
    post=extend_schema(
        request=LoginInputSerializer,
        responses={200: SessionSerializer, 401: _REFUSED},
        tags=["Customer"],
        summary="Exchange the utility's OIDC ID token for our session tokens",
        auth=[],
    )
)
class LoginView(_TokenExchangeView):
    input_serializer = LoginInputSerializer

    def exchange(self, data: dict) -> services.Session:
        return services.session_login(identity_token=data["identityToken"])


@extend_schema_view(
    post=extend_schema(
        request=RefreshInputSerializer,
        responses={200: SessionSerializer, 401: _REFUSED},
        tags=["Customer"],
        summary="Rotate the refresh token (the old one dies) and get a new access token",
        auth=[],
    )
)
class RefreshView(_TokenExchangeView):
    input_serializer = RefreshInputSerializer

    def exchange(self, data: dict) -> services.Session:
        return services.session_refresh(refresh_token=data["refreshToken"])


class LogoutView(APIView):
    @extend_schema(
        request=RefreshInputSerializer,
        responses={204: None},
        tags=["Customer"],
        summary="Revoke a refresh token",
    )
    def post(self, request: Request) -> Response:
        data = _input(RefreshInputSerializer, request)
        try:
            services.session_logout(customer=request.user, refresh_token=data["refreshToken"])
        except services.SessionInvalid:
            raise TokenRefused() from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileView(APIView):
    @extend_schema(
        responses={200: ProfileSerializer, 304: NOT_MODIFIED},
        parameters=[ETAG_HEADER, IF_NONE_MATCH],
        tags=["Customer"],
        summary="Your profile",
    )
    def get(self, request: Request) -> Response:
        return conditional_response(
            request, self, ProfileSerializer(selectors.customer_profile(customer=request.user)).data
        )


@extend_schema_view(
    list=extend_schema(summary="Your accounts", tags=["Accounts"]),
    retrieve=extend_schema(
        summary="One of your accounts",
        tags=["Accounts"],
        parameters=[ETAG_HEADER, IF_NONE_MATCH],
        responses={200: AccountSerializer, 304: NOT_MODIFIED},
    ),
)
class AccountViewSet(ETagRetrieveMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = AccountSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("account_number", "id")
    lookup_url_kwarg = "accountId"

    def get_queryset(self):
        return selectors.account_list(customer=self.request.user)


@extend_schema_view(
    list=extend_schema(
        summary="Your meters",
        tags=["Meters"],
        parameters=[MeterFilterSerializer],
    ),
    retrieve=extend_schema(
        summary="One of your meters",
        tags=["Meters"],
        parameters=[ETAG_HEADER, IF_NONE_MATCH],
        responses={200: MeterSerializer, 304: NOT_MODIFIED},
    ),
)
class MeterViewSet(ETagRetrieveMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = MeterSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("meter_number", "id")
    lookup_url_kwarg = "meterId"

    def get_queryset(self):
        return selectors.meter_list(customer=self.request.user)

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        filters = parse_query(MeterFilterSerializer, self.request)
        if "accountId" in filters:
            queryset = queryset.filter(account_id=filters["accountId"])
        if "serviceType" in filters:
            queryset = queryset.filter(service_type=filters["serviceType"])
        return queryset
