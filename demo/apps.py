from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The embedded demo: seeds a demo utility through the domain apps' own services.

    It sits above ``customers``, ``usage`` and ``insights`` (it imports all three; none of them
    imports it) and has no models.
    """

    name = "demo"
