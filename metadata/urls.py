from __future__ import annotations

from rest_framework.routers import SimpleRouter

from metadata.views import MetadataViewSet

router = SimpleRouter(trailing_slash=False)
router.register("", MetadataViewSet, basename="metadata")

urlpatterns = router.urls
