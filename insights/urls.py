from __future__ import annotations

from rest_framework.routers import SimpleRouter

from insights.views import InsightViewSet

router = SimpleRouter(trailing_slash=False)
router.register("Insights", InsightViewSet, basename="insight")

urlpatterns = router.urls
