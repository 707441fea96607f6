"""The Metadata lists: public, fixed, and cacheable by browsers and shared caches."""

from __future__ import annotations

import enum

from django.utils import translation
from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from energygrid.api.conditional import conditional_response
from energygrid.api.pagination import parse_page_size
from energygrid.api.schema import ETAG_HEADER, IF_NONE_MATCH, NOT_MODIFIED
from metadata.catalog import (
    BudgetPeriod,
    FlowDirection,
    Granularity,
    InsightType,
    PartnerScope,
    ServiceTypeCatalog,
    UnitOfMeasure,
)
from metadata.serializers import (
    BudgetPeriodSerializer,
    FlowDirectionSerializer,
    GranularityTypeSerializer,
    InsightTypeSerializer,
    PartnerScopeSerializer,
    ServiceTypeSerializer,
    UnitOfMeasureSerializer,
)

#: The lists change only with a deploy, so an hour of caching is safe; ETag revalidates after.
CACHE_CONTROL = "public, max-age=3600"

_CACHE_CONTROL_HEADER = OpenApiParameter(
    "Cache-Control", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 304]
)


_ACCEPT_LANGUAGE = OpenApiParameter("Accept-Language", OpenApiTypes.STR, OpenApiParameter.HEADER)
_CONTENT_LANGUAGE = OpenApiParameter(
    "Content-Language", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 304]
)


def _catalog_schema(
    item_serializer: type[serializers.Serializer], summary: str, *, localized: bool = False
):
    """The schema of one Metadata list: its ``items`` envelope, the cache headers and 304
    (and, for a ``localized`` one, Accept-Language and Content-Language)."""
    name = item_serializer.__name__.removesuffix("Serializer")
    description = (
        "Public: no token needed. A fixed list, never paged. Cacheable for an hour; "
        "revalidate with If-None-Match for a 304."
    )
    parameters = [IF_NONE_MATCH, ETAG_HEADER, _CACHE_CONTROL_HEADER]
    if localized:
        description += (
            " Names and descriptions follow Accept-Language (en, es, fr, ja; else English); "
            "Content-Language says which, and the response varies on Accept-Language."
        )
        parameters += [_ACCEPT_LANGUAGE, _CONTENT_LANGUAGE]
    return extend_schema(
        summary=summary,
        description=description,
        tags=["Metadata"],
        parameters=parameters,
        responses={
            200: inline_serializer(f"{name}List", {"items": item_serializer(many=True)}),
            304: NOT_MODIFIED,
        },
    )


class MetadataViewSet(viewsets.ViewSet):
    """Reference lists from :mod:`metadata.catalog`; no token needed (contract section 3).

    No authentication at all, so a stale bearer token sent out of habit cannot break a
    public read; throttling falls back to the client IP.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @_catalog_schema(GranularityTypeSerializer, "Bucket sizes usage can be read in")
    @action(detail=False, url_path="granularity-types")
    def granularity_types(self, request: Request) -> Response:
        return self._catalog(request, GranularityTypeSerializer, Granularity)

    @_catalog_schema(ServiceTypeSerializer, "Kinds of metered service")
    @action(detail=False, url_path="service-types")
    def service_types(self, request: Request) -> Response:
        return self._catalog(request, ServiceTypeSerializer, ServiceTypeCatalog)

    @_catalog_schema(UnitOfMeasureSerializer, "Units meters measure in")
    @action(detail=False, url_path="units-of-measure")
    def units_of_measure(self, request: Request) -> Response:
        return self._catalog(request, UnitOfMeasureSerializer, UnitOfMeasure)

    @_catalog_schema(InsightTypeSerializer, "Kinds of insight", localized=True)
    @action(detail=False, url_path="insight-types")
    def insight_types(self, request: Request) -> Response:
        """Names and descriptions in the best language of ``Accept-Language`` that we write
        (``settings.LANGUAGES``; else English), said in ``Content-Language``; the ETag is of
        the bytes, so one per language, and ``Vary: Accept-Language`` keeps caches apart."""
        language = translation.get_language_from_request(request)
        with translation.override(language):
            response = self._catalog(request, InsightTypeSerializer, InsightType)
        response["Content-Language"] = language
        patch_vary_headers(response, ["Accept-Language"])
        return response

    @_catalog_schema(BudgetPeriodSerializer, "Periods a budget can run over")
    @action(detail=False, url_path="budget-periods")
    def budget_periods(self, request: Request) -> Response:
        return self._catalog(request, BudgetPeriodSerializer, BudgetPeriod)

    @_catalog_schema(FlowDirectionSerializer, "Directions of energy usage can be read in")
    @action(detail=False, url_path="flow-directions")
    def flow_directions(self, request: Request) -> Response:
        return self._catalog(request, FlowDirectionSerializer, FlowDirection)

    @_catalog_schema(PartnerScopeSerializer, "Scopes a customer can grant a partner app")
    @action(detail=False, url_path="partner-scopes")
    def partner_scopes(self, request: Request) -> Response:
        return self._catalog(request, PartnerScopeSerializer, PartnerScope)

    def _catalog(
        self,
        request: Request,
        serializer_class: type[serializers.Serializer],
        catalog: type[enum.Enum],
    ) -> Response:
        """All of ``catalog`` as ``items``, with an ETag of the exact bytes sent (or a 304).

        Never paged, but a bad ``pageSize`` is still the 400 every list gives (contract section 1).
        """
        parse_page_size(request)
        data = {"items": serializer_class(list(catalog), many=True).data}
        return conditional_response(request, self, data, headers={"Cache-Control": CACHE_CONTROL})
