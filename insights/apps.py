from __future__ import annotations

from django.apps import AppConfig


class InsightsConfig(AppConfig):
    """Insights precomputed by workers (forecasts, anomalies, comparisons, budget alerts)."""

    name = "insights"

    def ready(self) -> None:
        from insights import signals  # noqa: F401  (connects the receivers)
