"""A simulated marketplace backend: receives paywindow's webhooks over HTTP, verifies their
signatures with the Standard Webhooks reference library, and remembers what it was told.

It answers as a real receiver would and can be told to misbehave (:meth:`Marketplace.fail`:
a status code, a delay, a dropped connection) so tests and benchmarks see the relay under
the faults real endpoints have. ``on_message`` hears each verified message once (a
redelivery of the same ``webhook-id`` is counted, not repeated), which is how a simulated
buyer learns of a retry link.
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

__all__ = ["Fault", "Marketplace", "Received", "running_marketplace"]


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
    ``drop`` the connection; for ``times`` requests (None: until cleared), and only for bodies
    that contain ``match`` (None: every one)."""

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
    url: str = ""
    _fault: Fault | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, fault: Fault | None) -> None:
        with self._lock:
            self._fault = fault

    def by_type(self, topic: str) -> list[Received]:
        return [r for r in self.received if r.type == topic]

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
        fault = self._next_fault(body)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.drop:
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
def running_marketplace(marketplace: Marketplace | None = None) -> Iterator[Marketplace]:
    """The marketplace on a free loopback port (``.url`` is its webhook URL) for the block."""
    import uvicorn

    from paywindow.sandbox import free_port

    market = marketplace or Marketplace()
    port = free_port()
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
    market.url = f"http://127.0.0.1:{port}/webhooks/paywindow"
    try:
        yield market
    finally:
        server.should_exit = True
        thread.join(10)
