"""Checking one webhook delivery before it is recorded: signature, size, and shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import stripe

from paywindow.errors import WebhookRejected

__all__ = ["ParsedEvent", "parse_event", "verify_signature"]

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


@dataclass(frozen=True)
class ParsedEvent:
    """The envelope fields of a Stripe event that the log indexes."""

    id: str
    type: str
    created: int
    account: str | None
    livemode: bool
    api_version: str | None


def parse_event(body: bytes) -> ParsedEvent:
    """Read the event envelope from a verified body; reject anything that is not an event."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookRejected(400, "malformed_json", "body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise WebhookRejected(400, "not_an_event", "body is not a JSON object")
    event_id, kind, created = data.get("id"), data.get("type"), data.get("created")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        raise WebhookRejected(400, "not_an_event", "event has no valid 'id'")
    if not isinstance(kind, str) or not kind or len(kind) > 255:
        raise WebhookRejected(400, "not_an_event", "event has no valid 'type'")
    if not isinstance(created, int) or isinstance(created, bool):
        raise WebhookRejected(400, "not_an_event", "event has no valid 'created'")
    if not isinstance(data.get("data"), dict):
        raise WebhookRejected(400, "not_an_event", "event has no 'data' object")
    account = data.get("account")
    api_version = data.get("api_version")
    return ParsedEvent(
        id=event_id,
        type=kind,
        created=created,
        account=account if isinstance(account, str) else None,
        livemode=bool(data.get("livemode", False)),
        api_version=api_version if isinstance(api_version, str) else None,
    )
