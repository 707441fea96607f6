from __future__ import annotations

from rest_framework.routers import SimpleRouter

from budgets.views import BudgetViewSet

router = SimpleRouter(trailing_slash=False)
router.register("Budgets", BudgetViewSet, basename="budget")

urlpatterns = router.urls
