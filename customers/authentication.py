"""Bearer authentication with our access tokens, whose principal is a Customer."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings

from customers.models import Customer


class CustomerJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer check, resolving the token to an *active* Customer on every request.

    Deactivating a customer therefore cuts off their access tokens at once.
    """

    www_authenticate_realm = "energygrid"

    def get_user(self, validated_token) -> Customer:
        customer_id = validated_token.get(api_settings.USER_ID_CLAIM)
        customer = (
            Customer.objects.select_related("utility").filter(pk=customer_id, active=True).first()
            if customer_id
            else None
        )
        if customer is None:
            raise InvalidToken("Token is invalid")
        return customer


class CustomerJWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "customers.authentication.CustomerJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "accessToken from POST /usage/v1/Customer/login or /refresh.",
        }
