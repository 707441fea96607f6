"""``/Budgets``: list, create (idempotent with ``Idempotency-Key``), read, conditional update
and delete (``If-Match``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from budgets import idempotency, selectors, services
from budgets.models import Budget, IdempotencyRecord
from budgets.serializers import BudgetFilterSerializer, BudgetInputSerializer, BudgetSerializer
from energygrid.api.conditional import not_modified, strong_etag
from energygrid.api.pagination import KeysetPagination
from energygrid.api.problems import InvalidQuery
from energygrid.api.query import parse_query
from energygrid.api.schema import IF_MATCH, PRECONDITION_FAILED

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"

_ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="Version of the budget's own fields (not of its live status); send it back "
    "in If-Match.",
)


def budget_etag(budget: Budget) -> str:
    """A strong validator of the budget's stored fields: it changes with every write.

    The live ``status`` is left out on purpose: usage arriving must not make a client's
    ``If-Match`` fail when nobody touched the budget.
    """
    return strong_etag(f"{budget.pk}:{budget.updated_at.isoformat()}".encode())


@extend_schema_view(
    list=extend_schema(
        summary="Your budgets, each with its status this period",
        parameters=[BudgetFilterSerializer],
    ),
    create=extend_schema(
        summary="Create a budget (at most 20)",
        request=BudgetInputSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_KEY_HEADER,
                {"type": "string", "pattern": idempotency.IDEMPOTENCY_KEY_PATTERN},
                OpenApiParameter.HEADER,
                description="Optional, 1-255 printable ASCII characters: a retry with the same "
                "key and body within 24 h replays the first response.",
            ),
            OpenApiParameter(
                "Location",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=[201],
                description="Path of the new budget.",
            ),
            _ETAG,
        ],
        responses={
            201: BudgetSerializer,
            409: OpenApiResponse(
                description="`conflict`: 20 budgets already, or this Idempotency-Key's first "
                "request is still running."
            ),
            422: OpenApiResponse(
                description="`idempotency-key-reused`: the key was used with another body."
            ),
        },
    ),
    retrieve=extend_schema(summary="One of your budgets", parameters=[_ETAG]),
    partial_update=extend_schema(
        summary="Change a budget",
        request=BudgetInputSerializer,
        parameters=[IF_MATCH, _ETAG],
        responses={200: BudgetSerializer, 412: PRECONDITION_FAILED},
    ),
    destroy=extend_schema(
        summary="Delete a budget",
        parameters=[IF_MATCH],
        responses={204: None, 412: PRECONDITION_FAILED},
    ),
)
class BudgetViewSet(viewsets.GenericViewSet):
    serializer_class = BudgetSerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("created_at", "id")
    lookup_url_kwarg = "budgetId"

    def get_queryset(self):
        return selectors.budget_list(customer=self.request.user)

    def filter_queryset(self, queryset):
        filters = parse_query(BudgetFilterSerializer, self.request)
        if "accountId" in filters:
            queryset = queryset.filter(account=filters["accountId"])
        if "active" in filters:
            queryset = queryset.filter(active=filters["active"] == "true")
        return queryset

    def _render(self, budgets: list[Budget]) -> list[dict[str, Any]]:
        """The representations of ``budgets``, their statuses computed together (2 queries)."""
        statuses = selectors.budget_statuses(budgets=budgets, now=timezone.now())
        return BudgetSerializer(budgets, many=True, context={"statuses": statuses}).data

    def _single(self, budget: Budget, status_code: int = status.HTTP_200_OK, **headers: str):
        headers = {"ETag": budget_etag(budget), **headers}
        return Response(self._render([budget])[0], status=status_code, headers=headers)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self._render(page))

    def _input(self, instance: Budget | None = None) -> dict[str, Any]:
        serializer = BudgetInputSerializer(
            instance,
            data=self.request.data,
            partial=instance is not None,
            context={"request": self.request},
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def create(self, request: Request) -> Response:
        header = request.headers.get(IDEMPOTENCY_KEY_HEADER)
        if header is None:
            return self._create(None)
        try:
            key = idempotency.idempotency_key_parse(header)
        except idempotency.InvalidIdempotencyKey as exc:
            raise InvalidQuery({IDEMPOTENCY_KEY_HEADER: [str(exc)]}, code="invalid") from None
        claim = idempotency.idempotency_claim(
            customer=request.user,
            key=key,
            fingerprint=idempotency.request_fingerprint(
                method=request.method, path=request.path, body=request.data
            ),
        )
        if isinstance(claim, idempotency.StoredResponse):
            return Response(
                claim.body,
                status=claim.status,
                headers={**claim.headers, "Idempotent-Replayed": "true"},
            )
        try:
            return self._create(claim)
        except BaseException:
            idempotency.idempotency_release(record=claim)
            raise

    def _create(self, claim: IdempotencyRecord | None) -> Response:
        data = self._input()
        with transaction.atomic():
            budget = services.budget_create(customer=self.request.user, **data)
            location = reverse("budget-detail", kwargs={self.lookup_url_kwarg: budget.pk})
            response = self._single(budget, status.HTTP_201_CREATED, Location=location)
            if claim is not None:
                idempotency.idempotency_complete(
                    record=claim,
                    response=idempotency.StoredResponse(
                        response.status_code,
                        response.data,
                        {"Location": location, "ETag": response["ETag"]},
                    ),
                )
        return response

    def retrieve(self, request: Request, budgetId: str) -> Response:
        # No 304: the ETag versions the budget, while its status changes with usage.
        return self._single(selectors.budget_get(customer=request.user, budget_id=budgetId))

    @contextmanager
    def _locked(self, budget_id: str) -> Iterator[Budget]:
        """The budget, row-locked for the transaction, once ``If-Match`` (if sent) matched."""
        with transaction.atomic():
            budget = selectors.budget_get(
                customer=self.request.user, budget_id=budget_id, for_update=True
            )
            not_modified(self.request, budget_etag(budget))
            yield budget

    def partial_update(self, request: Request, budgetId: str) -> Response:
        with self._locked(budgetId) as budget:
            budget = services.budget_update(budget=budget, **self._input(budget))
        return self._single(budget)

    def destroy(self, request: Request, budgetId: str) -> Response:
        with self._locked(budgetId) as budget:
            services.budget_delete(budget=budget)
        return Response(status=status.HTTP_204_NO_CONTENT)
