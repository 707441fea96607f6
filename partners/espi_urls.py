from __future__ import annotations

from django.urls import path

from partners import espi

urlpatterns = [
    path(
        "Batch/Subscription/<str:subscriptionId>",
        espi.BatchSubscriptionView.as_view(),
        name="espi-batch-subscription",
    ),
    path(
        "Subscription/<str:subscriptionId>/UsagePoint",
        espi.UsagePointListView.as_view(),
        name="espi-usage-points",
    ),
    path(
        "Subscription/<str:subscriptionId>/UsagePoint/<str:usagePointId>",
        espi.UsagePointView.as_view(),
        name="espi-usage-point",
    ),
]
