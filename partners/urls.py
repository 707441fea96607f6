from __future__ import annotations

from rest_framework.routers import SimpleRouter

from partners import views

router = SimpleRouter(trailing_slash=False)
router.register("Customer/authorizations", views.AuthorizationViewSet, basename="authorization")

urlpatterns = router.urls
