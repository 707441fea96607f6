from __future__ import annotations

from django.apps import AppConfig


class MetadataConfig(AppConfig):
    """Public, cacheable reference lists: granularities, service types, units, insight types."""

    name = "metadata"
