"""The benchmark's baseline: a bare DRF view (no authentication, permission or throttle) that
returns a stored body, served by the same gunicorn as the project (``benchmarks/reads.py``).

``BENCH_BODIES_DIR`` holds one ``<name>.json`` per body; ``GET /bench/bare/<name>`` returns it
through DRF's ``Response`` and ``JSONRenderer``, so a request pays for DRF and the rendering of
a list as long as ours, and nothing else.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from energygrid.urls import handler400, handler403, handler404, handler500

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


@cache
def _body(name: str) -> Any:
    return json.loads((Path(os.environ["BENCH_BODIES_DIR"]) / f"{name}.json").read_text())


class BareView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def get(self, request: Request, name: str) -> Response:
        return Response(_body(name))


urlpatterns = [
    path("bench/bare/<slug:name>", BareView.as_view()),
    path("", include("energygrid.urls")),
]
