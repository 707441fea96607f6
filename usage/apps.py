from __future__ import annotations

from django.apps import AppConfig


class UsageConfig(AppConfig):
    """Interval readings, tariff pricing, rollups and the readings import."""

    name = "usage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from usage import receivers  # noqa: F401 (connects the signal receivers)
