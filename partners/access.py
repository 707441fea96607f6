"""The one place that decides what a partner token may call (contract section 11.1).

Endpoints are named by their view's ``partner_resource`` or router ``basename``; each maps
reads and writes to the scope they need. A view not listed here is closed to partner tokens
(401, as ``/Customer/*`` is); a listed one whose scope the token lacks is a 403
``insufficient-scope``. Objects are narrowed to the granted accounts by the principal
(``Customer.granted_account_ids``), so ids outside them are 404 like anyone else's.
"""

from __future__ import annotations

from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import SAFE_METHODS, BasePermission

from metadata.catalog import PartnerScope
from partners.selectors import PartnerAccess

_USAGE = PartnerScope.USAGE_READ.value.id
#: resource -> (scope for reads, scope for writes); None: no scope allows it.
SCOPES: dict[str, tuple[str | None, str | None]] = {
    "account": (_USAGE, None),
    "meter": (_USAGE, None),
    "usage": (_USAGE, None),
    "insight": (PartnerScope.INSIGHTS_READ.value.id, None),
    "budget": (PartnerScope.BUDGETS_READ.value.id, PartnerScope.BUDGETS_WRITE.value.id),
    "espi": (PartnerScope.ESPI.value.id, None),
}
#: Resources only partner tokens reach (a customer's own token has no scopes to show).
PARTNER_ONLY = frozenset({"espi"})


def is_partner(request) -> bool:
    return isinstance(getattr(request, "auth", None), PartnerAccess)


def resource_of(view) -> str | None:
    return getattr(view, "partner_resource", None) or getattr(view, "basename", None)


def required_scope(view, method: str) -> str | None:
    """The scope a partner token needs to call ``method`` on ``view``; None: no scope does."""
    read, write = SCOPES.get(resource_of(view), (None, None))
    return read if method.upper() in SAFE_METHODS else write


class PartnerScopePermission(BasePermission):
    def has_permission(self, request, view) -> bool:
        # Imported here: DRF loads permission classes while rest_framework.views, which the
        # problems module needs, is still initialising.
        from energygrid.api.problems import InsufficientScope

        resource = resource_of(view)
        if not is_partner(request):
            if resource in PARTNER_ONLY:
                raise InsufficientScope(scope=SCOPES[resource][0])
            return True
        if resource not in SCOPES:
            raise AuthenticationFailed("Partner tokens are not accepted here")
        scope = required_scope(view, request.method)
        if scope is None or scope not in request.auth.scopes:
            raise InsufficientScope(scope=scope)
        return True
