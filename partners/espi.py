"""Green Button Connect My Data (ESPI 1.1 resources) for ``espi`` tokens (contract 11.3).

The feeds come from the export's own writer (``usage.exports.espi_document``): the same data
and encoding as ``/Usage/{meterId}/export?format=espi``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.views import APIView

from customers.models import Meter
from energygrid.api.problems import InvalidQuery, RangeTooLarge
from energygrid.api.query import parse_query
from usage.exports import espi_document, espi_usage_points

#: Readings a feed holds when ``published-min`` is not given, and the most it may span.
DEFAULT_WINDOW = timedelta(days=30)
MAX_WINDOW = timedelta(days=366)
ATOM = "application/atom+xml; charset=utf-8"


class _AtomOnly(BaseContentNegotiation):
    """Feeds are Atom whatever ``Accept`` says (ESPI clients ask for application/atom+xml);
    errors still render as problem details."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


#: ``published-min`` / ``published-max``: RFC 3339; they bound the readings' starts.
PublishedRangeSerializer = type(
    "PublishedRangeSerializer",
    (serializers.Serializer,),
    {
        "published-min": serializers.DateTimeField(required=False),
        "published-max": serializers.DateTimeField(required=False),
    },
)

_PUBLISHED = [
    OpenApiParameter(
        "published-min", OpenApiTypes.DATETIME, description="Default: 30 days before the max."
    ),
    OpenApiParameter(
        "published-max", OpenApiTypes.DATETIME, description="Exclusive; default: now."
    ),
]
_SUBSCRIPTION = OpenApiParameter(
    "subscriptionId", OpenApiTypes.UUID, "path", description="The grant's id."
)
_FEED = {(200, "application/atom+xml"): OpenApiResponse(OpenApiTypes.STR, "ESPI Atom feed")}


def _published(request: Request) -> tuple[datetime, datetime]:
    query = parse_query(PublishedRangeSerializer, request)
    end = query.get("published-max") or timezone.now()
    start = query.get("published-min") or end - DEFAULT_WINDOW
    if start >= end:
        raise InvalidQuery({"published-min": ["Must be before published-max."]})
    if end - start > MAX_WINDOW:
        raise RangeTooLarge(
            {"published-max": ["The range may span at most a year."]}, code="range_too_large"
        )
    return start, end


class _EspiView(APIView):
    """A resource of the token's own subscription (its grant); anything else is a 404."""

    partner_resource = "espi"
    content_negotiation_class = _AtomOnly

    def _meters(self, request: Request, subscription_id: str) -> list[Meter]:
        access = request.auth
        if str(access.authorization.pk) != subscription_id:
            raise NotFound("No such subscription.")
        return list(
            Meter.objects.filter(
                account__in=access.account_ids, account__customer=request.user
            ).order_by("meter_number", "id")
        )

    def _feed(self, request: Request, body: Any) -> StreamingHttpResponse:
        return StreamingHttpResponse(body, content_type=ATOM)

    def _base(self, subscription_id: str) -> str:
        return f"/espi/1_1/resource/Subscription/{subscription_id}/UsagePoint"


class BatchSubscriptionView(_EspiView):
    @extend_schema(
        tags=["Green Button Connect My Data"],
        summary="Every granted meter's readings as one ESPI feed",
        operation_id="espi_batch_subscription_retrieve",
        parameters=[_SUBSCRIPTION, *_PUBLISHED],
        responses=_FEED,
    )
    def get(self, request: Request, subscriptionId: str) -> StreamingHttpResponse:
        meters = self._meters(request, subscriptionId)
        start, end = _published(request)
        return self._feed(
            request,
            espi_document(
                meters=meters,
                start=start,
                end=end,
                currency=request.user.billing_currency,
                usage_points=self._base(subscriptionId),
                title=f"Green Button Connect My Data: subscription {subscriptionId}",
            ),
        )


class UsagePointListView(_EspiView):
    @extend_schema(
        tags=["Green Button Connect My Data"],
        summary="The subscription's usage points (one per granted meter)",
        operation_id="espi_usage_point_list",
        parameters=[_SUBSCRIPTION],
        responses=_FEED,
    )
    def get(self, request: Request, subscriptionId: str) -> StreamingHttpResponse:
        meters = self._meters(request, subscriptionId)
        return self._feed(
            request,
            espi_usage_points(
                meters=meters,
                usage_points=self._base(subscriptionId),
                title=f"Usage points of subscription {subscriptionId}",
            ),
        )


class UsagePointView(_EspiView):
    @extend_schema(
        tags=["Green Button Connect My Data"],
        summary="One usage point (meter) with its readings",
        operation_id="espi_usage_point_retrieve",
        parameters=[
            _SUBSCRIPTION,
            OpenApiParameter("usagePointId", OpenApiTypes.UUID, "path", description="Meter id."),
            *_PUBLISHED,
        ],
        responses=_FEED,
    )
    def get(
        self, request: Request, subscriptionId: str, usagePointId: str
    ) -> StreamingHttpResponse:
        meter = next(
            (m for m in self._meters(request, subscriptionId) if str(m.pk) == usagePointId),
            None,
        )
        if meter is None:
            raise NotFound("No such usage point.")
        start, end = _published(request)
        return self._feed(
            request,
            espi_document(
                meters=[meter],
                start=start,
                end=end,
                currency=request.user.billing_currency,
                usage_points=self._base(subscriptionId),
                title=f"Green Button Connect My Data: meter {meter.meter_number}",
            ),
        )
