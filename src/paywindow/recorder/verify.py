"""Checking one webhook delivery before it is recorded: signature, size, and shape."""

from __future__ import annotations

import stripe

from paywindow.errors import WebhookRejected

__all__ = ["verify_signature"]

_NO_MATCH = "No signatures found matching"


def verify_signature(body: bytes, header: str | None, secrets: list[str], tolerance: int) -> None:
    """Accept ``body`` if its ``Stripe-Signature`` matches any secret (rotation, Connect).

    Uses the stripe SDK's own check; raises :class:`WebhookRejected` (400) otherwise.
    """
    if not header:
        raise WebhookRejected(400, "missing_signature", "missing Stripe-Signature header")
    if not secrets:
        raise WebhookRejected(503, "not_configured", "no webhook signing secret is configured")
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookRejected(400, "not_utf8", "body is not UTF-8") from exc
    last: stripe.SignatureVerificationError | None = None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance or None)
            return
        except stripe.SignatureVerificationError as exc:
            if _NO_MATCH not in str(exc):
                reason = "stale_signature" if "tolerance" in str(exc) else "bad_signature_header"
                raise WebhookRejected(400, reason, exc.user_message or str(exc)) from exc
            last = exc
    message = last.user_message if last is not None else _NO_MATCH
    raise WebhookRejected(400, "bad_signature", message or _NO_MATCH)
