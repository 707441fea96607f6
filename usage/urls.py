from __future__ import annotations

from rest_framework.routers import SimpleRouter

from usage.views import UsageViewSet

router = SimpleRouter(trailing_slash=False)
router.register("Usage", UsageViewSet, basename="usage")

urlpatterns = router.urls
