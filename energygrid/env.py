"""Strict parsing of environment variables: a misconfigured server refuses to start."""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_list(name: str, default: str) -> list[str]:
    value = env_str(name, default) or ""
    return [item.strip() for item in value.split(",") if item.strip()]


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as ``20/min``; anything else refuses to start."""
    value = env_str(name, default) or default
    count, _, period = value.partition("/")
    if not count.isdigit() or int(count) <= 0 or not period or period[0] not in "smhd":
        raise ImproperlyConfigured(f"{name} must be a rate like 20/min, not {value!r}")
    return value


def env_origins(name: str) -> list[str]:
    """Comma-separated origins (``https://admin.example.com``): scheme and host, nothing else."""
    origins = env_list(name, "")
    for origin in origins:
        scheme, _, rest = origin.partition("://")
        if scheme not in ("http", "https") or not rest or "/" in rest:
            raise ImproperlyConfigured(
                f"{name} must list origins like https://admin.example.com, not {origin!r}"
            )
    return origins


def env_header(name: str) -> str | None:
    """An HTTP header name (``X-Forwarded-Proto``) as Django's ``META`` key, or None if unset."""
    value = env_str(name)
    if value is None:
        return None
    if not value.replace("-", "").isalnum() or not value.isascii():
        raise ImproperlyConfigured(f"{name} must be a header name like X-Forwarded-Proto")
    return "HTTP_" + value.upper().replace("-", "_")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """A whole number no smaller than ``minimum``; anything else refuses to start."""
    value = env_str(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or int(value) < minimum:
        raise ImproperlyConfigured(f"{name} must be a whole number >= {minimum}, not {value!r}")
    return int(value)


def env_decimal(name: str, default: str) -> Decimal:
    """A non-negative decimal number; anything else refuses to start."""
    value = env_str(name, default) or default
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal(-1)
    if not number.is_finite() or number < 0:
        raise ImproperlyConfigured(f"{name} must be a non-negative number, not {value!r}")
    return number


def env_choice(name: str, default: str, choices: list[str]) -> str:
    """One of ``choices``; anything else refuses to start."""
    value = env_str(name, default) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value
