"""Checking one webhook delivery before it is recorded: its signature and its freshness."""

from __future__ import annotations

import stripe

from paywindow.errors import WebhookRejected

__all__ = ["verify_signature"]

_NO_MATCH = "No signatures found matching"


def verify_signature(
    body: bytes, header: str | None, secrets: list[str], tolerance: int, now: float
) -> None:
    """Accept ``body`` if its ``Stripe-Signature`` matches any secret (rotation, Connect) and
    its timestamp is within ``tolerance`` seconds of ``now``, before or after.

    The signature is checked by the stripe SDK; the SDK refuses only old timestamps, so
    freshness both ways is checked here, once the timestamp is known to be signed. Raises
    :class:`WebhookRejected` (400) otherwise.
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
            stripe.WebhookSignature.verify_header(payload, header, secret, None)
        except stripe.SignatureVerificationError as exc:
            if _NO_MATCH not in str(exc):
                raise WebhookRejected(
                    400, "bad_signature_header", exc.user_message or str(exc)
                ) from exc
            last = exc
        else:
            _check_fresh(_timestamp(header), tolerance, now)
            return
    message = last.user_message if last is not None else _NO_MATCH
    raise WebhookRejected(400, "bad_signature", message or _NO_MATCH)


def _timestamp(header: str) -> int:
    """The header's ``t=`` as the SDK reads it (it has just verified the signature over it)."""
    items = [item.split("=", 2) for item in header.split(",")]
    return int(next(item[1] for item in items if item[0] == "t"))


def _check_fresh(timestamp: int, tolerance: int, now: float) -> None:
    if timestamp < now - tolerance:
        message = f"signature timestamp is more than {tolerance} s old"
        raise WebhookRejected(400, "stale_signature", message)
    if timestamp > now + tolerance:
        message = f"signature timestamp is more than {tolerance} s in the future"
        raise WebhookRejected(400, "future_signature", message)
