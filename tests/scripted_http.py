"""A real HTTP server on loopback whose answers a test scripts per path, counting the hits:
the identity provider (JWKS) as an attacker or an outage would make it behave."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    #: The JSON document, or a callable making it per request (for a document that changes).
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedServer:
    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: Counter[str] = Counter()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests[self.path] += 1
                answer = outer.answers.get(self.path, Answer(404, {"error": "not found"}))
                document = answer.body() if callable(answer.body) else answer.body
                body = json.dumps(document).encode()
                self.send_response(answer.status)
                for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def address(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
