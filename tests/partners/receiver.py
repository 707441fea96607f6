"""A webhook receiver on loopback, as a partner would run one: it answers with the statuses it
is told to, verifies every signature with the Standard Webhooks library and processes each
``webhook-id`` once (retries are deduplicated, as the spec asks of consumers)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

#: Ports in this project's test range (18700-18799).
RECEIVER_PORT = 18710


@dataclass
class Receiver:
    secret: str = ""
    answers: list[int] = field(default_factory=list)  # then 200 for ever
    hang: threading.Event | None = None  # set: answer nothing until it is released
    received: list[dict[str, Any]] = field(default_factory=list)
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    got_one: threading.Event = field(default_factory=threading.Event)

    url: str = f"http://127.0.0.1:{RECEIVER_PORT}/hooks"

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        if self.hang is not None:
            self.hang.wait(30)
        try:
            payload = Webhook(self.secret).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            payload, verified = json.loads(body), False
        self.received.append({"headers": headers, "payload": payload, "verified": verified})
        status = self.answers.pop(0) if self.answers else 200
        if verified and 200 <= status < 300:
            self.processed.setdefault(headers["webhook-id"], payload)
        self.got_one.set()
        return status


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.handle({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    return Handler


@contextmanager
def running(receiver: Receiver, port: int = RECEIVER_PORT) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.hang is not None:
            receiver.hang.set()
        server.shutdown()
        server.server_close()
