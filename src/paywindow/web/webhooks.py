"""``POST /webhooks/stripe`` as a plain ASGI endpoint: the recorder's hot path.

It sits in front of the FastAPI app and takes only its own path, so a delivery costs the
checks and the commit, not a framework's middleware stack. Everything else (health, the
order API) passes through to FastAPI. Order of trust: size, signature (stripe SDK), envelope,
then a durable group commit; the answer is sent only after the commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from paywindow.errors import StoreUnavailable, WebhookRejected
from paywindow.gateway.signature import verify_signature
from paywindow.inbox.eventlog import event_row, parse_event
from paywindow.inbox.writer import EventWriter
from paywindow.observability import metrics
from paywindow.web.server_errors import ServerErrors, error_body, noted, respond

__all__ = ["WEBHOOK_PATH", "WebhookEndpoint"]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/stripe"
_KEPT_HEADERS = (b"stripe-signature", b"user-agent", b"content-type", b"content-length")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class WebhookEndpoint:
    """ASGI app: the webhook path handled here, any other request handed to ``inner``.

    Both go through ``errors`` (:class:`ServerErrors`), which reports every 5xx answer.
    """

    def __init__(
        self, inner: ASGIApp, config: Any, writer: EventWriter, errors: ServerErrors
    ) -> None:
        self.inner = inner
        self.config = config
        self.writer = writer
        self.errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
        elif scope["path"] != WEBHOOK_PATH:
            await self.errors(self.inner, scope, receive, send)
        else:
            scope["paywindow.route"] = WEBHOOK_PATH
            await self.errors(self._webhook, scope, receive, send)

    async def _webhook(self, scope: Scope, receive: Receive, send: Send) -> None:
        counters = self.config.counters
        counters["webhooks.received"] += 1
        metrics().increment("webhooks.received")
        allow = ""
        try:
            status, payload = await self._record(scope, receive)
        except WebhookRejected as exc:
            counters["webhooks.rejected"] += 1
            counters[f"webhooks.rejected.{exc.reason}"] += 1
            metrics().increment("webhooks.rejected", tags={"reason": exc.reason})
            log.info("webhook rejected: %s", exc.reason, extra={"reason": exc.reason})
            status, payload = exc.status, error_body(exc.reason, exc.message)
            allow = "POST" if status == 405 else ""
        except Exception as exc:  # answered 503 (transient) or 500 (a bug): Stripe redelivers
            if isinstance(exc, StoreUnavailable):
                counters["webhooks.unavailable"] += 1
                metrics().increment("webhooks.unavailable")
            status, payload = noted(scope, exc)
        await respond(send, status, payload, allow)

    async def _record(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any]]:
        if scope["method"] != "POST":
            raise WebhookRejected(405, "method_not_allowed", "Method Not Allowed")
        headers = {name: value for name, value in scope["headers"] if name in _KEPT_HEADERS}
        body = await _read_body(receive, headers.get(b"content-length"), self.config.max_body)
        signature = headers.get(b"stripe-signature")
        verify_signature(
            body,
            signature.decode("latin-1") if signature else None,
            self.config.secrets,
            self.config.tolerance,
            now=time.time(),  # Stripe signs with wall-clock time; config.clock may be simulated
        )
        event = parse_event(body)
        client = scope.get("client")
        row = event_row(
            body,
            event,
            received_at=self.config.clock.now(),
            source="webhook",
            headers={k.decode(): v.decode("latin-1") for k, v in headers.items()},
            remote_addr=client[0] if client else None,
        )
        is_new = await self.writer.submit(row)
        status = "recorded" if is_new else "duplicate"
        self.config.counters[f"webhooks.{status}"] += 1
        metrics().increment(f"webhooks.{status}", tags={"type": event.type})
        log.debug("webhook %s", status, extra={"event_id": event.id, "event_type": event.type})
        return 200, {"received": True, "status": status, "id": event.id}


async def _read_body(receive: Receive, declared: bytes | None, limit: int) -> bytes:
    too_large = WebhookRejected(413, "too_large", f"body larger than {limit} bytes")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise WebhookRejected(400, "disconnected", "client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
