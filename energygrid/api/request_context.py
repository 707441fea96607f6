"""The id of the request being served, for log records (imported by logging config early)."""

from __future__ import annotations

import logging
from contextvars import ContextVar

current_request_id: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIdLogFilter(logging.Filter):
    """Stamps every log record with the id of the request being served (``-`` outside one).

    ``django.request`` logs a 4xx/5xx after the middleware has returned (the context is gone
    by then) but passes the request along: its id is taken from there.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = getattr(getattr(record, "request", None), "request_id", None)
        record.request_id = request_id or current_request_id.get()
        return True
