"""Signing keys for a utility whose ID tokens this install issues itself (the demo).

Real utilities sign their own ID tokens; an install only holds a private key for a utility it
stands in for, so people can try the login flow end to end (``issue_identity_token``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from customers.models import Customer, Utility

_ALGORITHM = "RS256"


class IdentityTokenUnavailable(Exception):
    """This install cannot sign an ID token for that utility and subject."""


def signing_key_generate() -> str:
    """A new RSA 2048 private key as unencrypted PKCS#8 PEM (stored in Utility.private_key_pem)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _private_key(private_key_pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise IdentityTokenUnavailable("the stored signing key cannot be read") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise IdentityTokenUnavailable("the stored signing key is not an RSA key")
    return key


def _thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: a ``kid`` that follows from the key, so it needs no storage."""
    canonical = json.dumps(
        {name: public_jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _public_jwk(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk = json.loads(jwt.get_algorithm_by_name(_ALGORITHM).to_jwk(key.public_key()))
    return {**jwk, "kid": _thumbprint(jwk), "use": "sig", "alg": _ALGORITHM}


def public_jwks(*, private_key_pem: str) -> dict[str, Any]:
    """The JWKS a verifier needs for tokens signed with this private key (public parts only)."""
    return {"keys": [_public_jwk(_private_key(private_key_pem))]}


def identity_token_issue(*, utility: Utility, subject: str, ttl_seconds: int = 300) -> str:
    """A fresh, single-use ID token for an enrolled, active ``subject``, as the utility would.

    Each token gets its own ``jti`` because login accepts an ID token only once.
    """
    if not utility.private_key_pem:
        raise IdentityTokenUnavailable(
            f"this install holds no signing key for utility {utility.slug!r}"
        )
    customer = Customer.objects.filter(utility=utility, subject=subject).first()
    if customer is None:
        raise IdentityTokenUnavailable(
            f"subject {subject!r} is not enrolled at utility {utility.slug!r}"
        )
    if not customer.active:
        raise IdentityTokenUnavailable(f"customer {subject!r} is deactivated")
    key = _private_key(utility.private_key_pem)
    now = int(time.time())
    claims = {
        "iss": utility.issuer,
        "aud": utility.audience,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, key, algorithm=_ALGORITHM, headers={"kid": _public_jwk(key)["kid"]})
