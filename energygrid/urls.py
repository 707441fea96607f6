from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from energygrid.api.metrics import metrics_view
from energygrid.api.views import HealthView, ReadinessView
from partners.views import TokenView

handler400 = "energygrid.api.problems.handler400"
handler403 = "energygrid.api.problems.handler403"
handler404 = "energygrid.api.problems.handler404"
handler500 = "energygrid.api.problems.handler500"

api_v1 = [
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path(
        "redoc",
        # Our template: drf-spectacular's loads fonts from Google, and the docs must work offline.
        SpectacularRedocView.as_view(url_name="schema", template_name="energygrid/redoc.html"),
        name="redoc",
    ),
    path("", include("customers.urls")),
    path("", include("usage.urls")),
    path("", include("insights.urls")),
    path("", include("budgets.urls")),
    path("", include("partners.urls")),
    path("Metadata/", include("metadata.urls")),
]

urlpatterns = [
    path("healthz", HealthView.as_view(), name="healthz"),
    path("readyz", ReadinessView.as_view(), name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("usage/v1/", include(api_v1)),
    path("oauth/token", TokenView.as_view(), name="oauth-token"),
    path("espi/1_1/resource/", include("partners.espi_urls")),
    path("admin/", admin.site.urls),
]
