"""Test-only URLconf: the project's URLs plus views that fail on purpose or page over ties.

Tests switch to it with ``settings.ROOT_URLCONF = "tests.api.urls"``. The error handlers are
the project's own, so what is tested is what production answers.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.models import Meter
from energygrid.api.pagination import Page, paginate_queryset
from energygrid.urls import handler400, handler403, handler404, handler500
from energygrid.urls import urlpatterns as project_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

#: What the failing views raise; a 500 must never show it.
SECRET_FAILURE = "SELECT password FROM vault -- deliberate failure"


def django_failure(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_FAILURE)


class DrfFailureView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError(SECRET_FAILURE)


class MetersByServiceTypeView(APIView):
    """Every meter, ordered by a column most rows share, so pages must break ties by id.

    ``?order=desc`` walks the same keyset backwards.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        ordering = ("service_type", "id")
        if request.query_params.get("order") == "desc":
            ordering = ("-service_type", "-id")
        rows, token = paginate_queryset(Meter.objects.all(), request, ordering)
        items = [{"id": str(meter.id), "serviceType": meter.service_type} for meter in rows]
        return Response(Page(items, token).envelope())


urlpatterns = [
    path("test/django-failure", django_failure),
    path("test/drf-failure", DrfFailureView.as_view()),
    path("test/meters-by-service-type", MetersByServiceTypeView.as_view()),
    *project_urlpatterns,
]
