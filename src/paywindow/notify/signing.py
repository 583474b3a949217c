"""Signing webhooks the Standard Webhooks way (https://www.standardwebhooks.com/).

Each delivery carries ``webhook-id`` (the message id, the same on every retry),
``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``: ``v1,`` and the
base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` under the endpoint's secret, one per secret
that signs (two while a secret is being rotated), separated by spaces. A secret is ``whsec_``
and the base64 of 24 random bytes, as Svix issues them, so off-the-shelf verifiers take it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _random

__all__ = ["PREFIX", "headers", "new_secret", "sign"]

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` + base64 of 24 random bytes."""
    return PREFIX + base64.b64encode(_random.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<signature>`` of ``body`` for ``message_id`` at ``timestamp``."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets: list[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in secrets),
        "content-type": "application/json",
    }
