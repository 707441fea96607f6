"""Hooks named in settings: how an app tells the apps built on it what happened, in its own
transaction, without importing them."""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string


def hooks_run(paths: list[str], **kwargs: Any) -> None:
    for path in paths:
        import_string(path)(**kwargs)
