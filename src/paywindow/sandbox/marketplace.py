"""A simulated marketplace backend: receives paywindow's webhooks over HTTP, verifies their
signatures with the Standard Webhooks reference library, and remembers what it was told.

It answers as a real receiver would and can be told to misbehave (:meth:`Marketplace.fail`:
a status code, a delay, a dropped connection) so tests and benchmarks see the relay under
the faults real endpoints have. ``on_message`` hears each verified message once (a
redelivery of the same ``webhook-id`` is counted, not repeated), which is how a simulated
buyer learns of a retry link.

What it counts: ``requests`` (every request that reached it), ``answered`` (2xx answers
sent), ``deliveries`` (verified receipts per ``webhook-id``: above 1 is a redelivery) and
``received`` (each message once, with ``at``, its first arrival). An endpoint that is *down*
(connection refused) is a URL with no marketplace on it yet: :func:`running_marketplace`
takes a ``port``, so a test can point an endpoint at a port first and start the receiver on
it later.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fault", "Marketplace", "Received", "running_marketplace", "webhook_url"]


@dataclass(frozen=True)
class Received:
    id: str
    type: str
    order_id: str | None
    data: dict[str, Any]
    at: float  # time.time() when it arrived


@dataclass
class Fault:
    """How the next answers go wrong: ``status`` instead of 200, ``delay`` seconds first,
    ``drop`` the connection (the answer's headers go out, then the socket closes before the
    body: the client sees a truncated response, never a status it could act on); for
    ``times`` requests (None: until cleared), and only for bodies that contain ``match``
    (None: every one). A message that waited out a ``delay`` is still received, as a slow
    real receiver would: if the sender gave up first, its retry is a redelivery."""

    status: int | None = None
    delay: float = 0.0
    drop: bool = False
    times: int | None = None
    match: str | None = None


@dataclass
class Marketplace:
    """The receiver's state; :func:`running_marketplace` serves it over HTTP."""

    secrets: list[str] = field(default_factory=list)
    on_message: Callable[[Received], None] | None = None
    received: list[Received] = field(default_factory=list)
    deliveries: Counter[str] = field(default_factory=Counter)  # webhook-id -> times received
    rejected: int = 0
    requests: int = 0  # every request that reached the receiver
    answered: int = 0  # 2xx answers sent
    url: str = ""
    _fault: Fault | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, fault: Fault | None) -> None:
        with self._lock:
            self._fault = fault

    def by_type(self, topic: str) -> list[Received]:
        return [r for r in self.received if r.type == topic]

    def redelivered(self) -> int:
        """Verified receipts beyond the first, over every ``webhook-id``."""
        with self._lock:
            return sum(n - 1 for n in self.deliveries.values() if n > 1)

    def arrivals(self) -> dict[str, float]:
        """``webhook-id`` -> ``time.time()`` of its first arrival."""
        with self._lock:
            return {r.id: r.at for r in self.received}

    def _next_fault(self, body: bytes) -> Fault | None:
        with self._lock:
            fault = self._fault
            if fault is not None and fault.match is not None and fault.match.encode() not in body:
                return None
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._fault = None
            return fault

    def _verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        for secret in self.secrets:
            try:
                payload: dict[str, Any] = Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            return payload
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self._lock:
            self.requests += 1
        fault = self._next_fault(body)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.drop:
            # headers promising a body, then an exception: uvicorn closes the socket (raising
            # before the start would make it answer 500 instead)
            promised = [(b"content-type", b"application/json"), (b"content-length", b"64")]
            await send({"type": "http.response.start", "status": 200, "headers": promised})
            raise ConnectionResetError("the marketplace dropped the connection")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status = fault.status if fault is not None and fault.status else 200
        if status == 200:
            payload = self._verify(body, headers)
            if payload is None:
                status = 401
                with self._lock:
                    self.rejected += 1
            else:
                self._record(headers["webhook-id"], payload)
        answer = json.dumps({"status": status}).encode()
        start = {"type": "http.response.start", "status": status}
        start["headers"] = [(b"content-type", b"application/json")]
        await send(start)
        await send({"type": "http.response.body", "body": answer})
        if 200 <= status < 300:
            with self._lock:
                self.answered += 1

    def _record(self, message_id: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self.deliveries[message_id] += 1
            first = self.deliveries[message_id] == 1
            if first:
                received = Received(
                    message_id,
                    str(payload.get("type")),
                    payload.get("order_id"),
                    payload.get("data") or {},
                    time.time(),
                )
                self.received.append(received)
        if first and self.on_message is not None:
            self.on_message(received)


@contextmanager
def running_marketplace(
    marketplace: Marketplace | None = None, *, port: int | None = None
) -> Iterator[Marketplace]:
    """The marketplace on a loopback port (``.url`` is its webhook URL) for the block: ``port``,
    or a free one."""
    import uvicorn

    from paywindow.sandbox import free_port

    market = marketplace or Marketplace()
    port = port or free_port()
    config = uvicorn.Config(
        market, host="127.0.0.1", port=port, log_level="critical", timeout_keep_alive=75
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="marketplace", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the simulated marketplace did not start")
        time.sleep(0.01)
    market.url = webhook_url(port)
    try:
        yield market
    finally:
        server.should_exit = True
        thread.join(10)


def webhook_url(port: int) -> str:
    """The marketplace's webhook URL on loopback ``port`` (whether or not it is running)."""
    return f"http://127.0.0.1:{port}/webhooks/paywindow"
