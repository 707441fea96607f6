from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    """Cross-cutting HTTP plumbing: problem details, pagination, request ids, health, schema."""

    name = "energygrid.api"
    label = "api"
    verbose_name = "API plumbing"

    def ready(self) -> None:
        # Connects the Celery task signals, in web and worker processes alike.
        from energygrid.api import metrics  # noqa: F401
