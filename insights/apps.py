from __future__ import annotations

from django.apps import AppConfig


class InsightsConfig(AppConfig):
    """Insights precomputed by workers (forecasts, anomalies, comparisons, budget alerts)."""

    name = "insights"
