"""The demo partner app: what a partner runs, played against this install.

``DemoPartner`` walks the code flow over HTTP (the customer's consent, the token exchange with
PKCE, reads) and ``WebhookReceiver`` is the partner's webhook endpoint on loopback, verifying
each signature with the Standard Webhooks library and processing each ``webhook-id`` once (as
the spec asks of receivers; the tests use the same receiver).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from standardwebhooks import Webhook, WebhookVerificationError

from partners.services import Credentials, partner_register

DEMO_PARTNER = "Demo Solar App"
DEMO_PORT = 18790
DEMO_REDIRECT_URI = f"http://127.0.0.1:{DEMO_PORT}/callback"
DEMO_WEBHOOK_URL = f"http://127.0.0.1:{DEMO_PORT}/webhooks"


def demo_partner_register(*, utility_slug: str, rotate_secret: bool = False) -> Credentials:
    """The demo utility's demo partner, with its webhook on the loopback receiver."""
    _partner, credentials = partner_register(
        utility_slug=utility_slug,
        name=DEMO_PARTNER,
        redirect_uris=[DEMO_REDIRECT_URI],
        webhook_url=DEMO_WEBHOOK_URL,
        rotate_secret=rotate_secret,
    )
    return credentials


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 section 4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class WebhookReceiver:
    """A partner's webhook endpoint: answers ``answers`` in turn (then 200), or nothing
    while ``hang`` is unset; keeps every request and the verified events, once per id."""

    secret: str
    answers: list[int] = field(default_factory=list)
    hang: threading.Event | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    arrived: threading.Event = field(default_factory=threading.Event)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        if self.hang is not None:
            self.hang.wait(30)
        try:
            payload, verified = Webhook(self.secret).verify(body, headers), True
        except WebhookVerificationError:
            payload, verified = json.loads(body), False
        self.received.append({"headers": headers, "payload": payload, "verified": verified})
        status = self.answers.pop(0) if self.answers else 200
        if verified and 200 <= status < 300:
            self.processed.setdefault(headers["webhook-id"], payload)
        self.arrived.set()
        return status

    @contextmanager
    def running(self, port: int) -> Iterator[WebhookReceiver]:
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield self
        finally:
            if self.hang is not None:
                self.hang.set()
            server.shutdown()
            server.server_close()


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
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


@dataclass
class DemoPartner:
    """The partner's side of the code flow, over HTTP against ``base_url``."""

    base_url: str
    credentials: Credentials
    timeout: float = 30

    def _url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def customer_login(self, identity_token: str) -> str:
        response = requests.post(
            self._url("/usage/v1/Customer/login"),
            json={"identityToken": identity_token},
            timeout=self.timeout,
        )
        response.raise_for_status()
        return response.json()["accessToken"]

    def consent(self, customer_token: str, scope: str) -> tuple[str, str, str]:
        """The customer's app records consent; returns (grant id, code, verifier)."""
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(12)
        response = requests.post(
            self._url("/usage/v1/Customer/authorizations"),
            json={
                "clientId": self.credentials.client_id,
                "redirectUri": DEMO_REDIRECT_URI,
                "scope": scope,
                "state": state,
                "codeChallenge": challenge,
                "codeChallengeMethod": "S256",
            },
            headers={"Authorization": f"Bearer {customer_token}"},
            timeout=self.timeout,
        )
        response.raise_for_status()
        query = parse_qs(urlsplit(response.json()["redirectTo"]).query)
        if query["state"] != [state]:
            raise RuntimeError("the redirect came back with another state")
        return response.json()["id"], query["code"][0], verifier

    def exchange(self, code: str, verifier: str) -> dict[str, Any]:
        response = requests.post(
            self._url("/oauth/token"),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": DEMO_REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(self.credentials.client_id, self.credentials.client_secret or ""),
            timeout=self.timeout,
        )
        response.raise_for_status()
        return response.json()

    def get(self, token: str, path: str, **params: str) -> requests.Response:
        return requests.get(
            self._url(path),
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=self.timeout,
        )
