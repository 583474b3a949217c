"""Ids shaped like Stripe's (prefix, underscore, random alphanumerics): the one id generator,
for our own secrets and tokens and for every object the sandbox makes."""

from __future__ import annotations

import secrets
import string

__all__ = ["new_id"]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """``prefix`` (``"ch"``, ``"cs_test"``), an underscore and ``length`` random alphanumerics.

    With an empty prefix, the random alphanumerics alone (a fingerprint, a secret's tail).
    """
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(length))
    return f"{prefix}_{tail}" if prefix else tail
