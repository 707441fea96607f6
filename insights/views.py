"""The Insights endpoints (contract section 7): reads of precomputed insights, and the
customer's status and feedback. Nothing here runs a model."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from energygrid.api.conditional import conditional_response, not_modified, strong_etag
from energygrid.api.pagination import KeysetPagination
from energygrid.api.query import parse_query
from energygrid.api.schema import (
    ETAG_HEADER,
    IF_MATCH,
    IF_NONE_MATCH,
    NOT_MODIFIED,
    PRECONDITION_FAILED,
)
from insights import selectors, services
from insights.models import Insight
from insights.serializers import (
    InsightFilterSerializer,
    InsightPatchSerializer,
    InsightSerializer,
    insight_schema,
)

_ID = OpenApiParameter("insightId", OpenApiTypes.UUID, OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(
        summary="Your insights, newest period first",
        tags=["Insights"],
        parameters=[InsightFilterSerializer],
        responses=insight_schema(many=True),
    ),
    retrieve=extend_schema(
        summary="One of your insights",
        tags=["Insights"],
        parameters=[_ID, ETAG_HEADER, IF_NONE_MATCH],
        responses={200: insight_schema(), 304: NOT_MODIFIED},
    ),
    partial_update=extend_schema(
        summary="Mark an insight read or dismissed, or say whether it helped",
        tags=["Insights"],
        parameters=[
            _ID,
            ETAG_HEADER,
            IF_MATCH,
        ],
        request=InsightPatchSerializer,
        responses={200: insight_schema(), 412: PRECONDITION_FAILED},
    ),
)
class InsightViewSet(viewsets.GenericViewSet):
    pagination_class = KeysetPagination
    keyset_ordering = ("-period_end", "-id")
    lookup_url_kwarg = "insightId"
    serializer_class = InsightSerializer

    def list(self, request: Request) -> Response:
        filters = parse_query(InsightFilterSerializer, request)
        queryset = selectors.insight_list(
            customer=request.user,
            types=[filters["type"]] if "type" in filters else None,
            account_id=filters.get("accountId"),
            meter_id=filters.get("meterId"),
            status=filters.get("status"),
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(InsightSerializer(page, many=True).data)

    def retrieve(self, request: Request, insightId: str) -> Response:
        insight = selectors.insight_get(customer=request.user, insight_id=insightId)
        return conditional_response(request, self, InsightSerializer(insight).data)

    def partial_update(self, request: Request, insightId: str) -> Response:
        changes = InsightPatchSerializer(data=request.data)
        changes.is_valid(raise_exception=True)
        insight = services.insight_update(
            customer=request.user,
            insight_id=insightId,
            precondition=lambda current: not_modified(
                request, self._represent(request, current)[1]
            ),
            **changes.validated_data,
        )
        data, etag = self._represent(request, insight)
        return Response(data, headers={"ETag": etag})

    def _represent(self, request: Request, insight: Insight) -> tuple[dict, str]:
        """The insight's body and the ETag of exactly those bytes."""
        data = InsightSerializer(insight).data
        body = request.accepted_renderer.render(
            data, request.accepted_media_type, self.get_renderer_context()
        )
        return data, strong_etag(body)
