from __future__ import annotations

from django.apps import AppConfig


class SupportConfig(AppConfig):
    """What a utility's customer-service staff work with in the admin: one page per customer
    (accounts, meters, usage charts, budgets, insights, logins) and actions that queue work.

    It sits above the domain apps (it reads ``usage``, ``budgets`` and ``insights`` and queues
    their tasks), so ``customers`` never imports them. No models.
    """

    name = "support"
