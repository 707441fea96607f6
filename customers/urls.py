from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from customers import views

router = SimpleRouter(trailing_slash=False)
router.register("Accounts", views.AccountViewSet, basename="account")
router.register("Meters", views.MeterViewSet, basename="meter")

urlpatterns = [
    path("Customer/login", views.LoginView.as_view(), name="customer-login"),
    path("Customer/refresh", views.RefreshView.as_view(), name="customer-refresh"),
    path("Customer/logout", views.LogoutView.as_view(), name="customer-logout"),
    path("Customer/profile", views.ProfileView.as_view(), name="customer-profile"),
    *router.urls,
]
