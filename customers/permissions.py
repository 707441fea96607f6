from __future__ import annotations

from rest_framework.permissions import BasePermission

from customers.models import Customer


class IsCustomer(BasePermission):
    """The request carries a valid access token of an active customer."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, Customer)
