"""Webhook delivery: signing, background sending, retries with backoff, and chaos switches.

Design: ``Dispatcher.on_event`` runs inside ``Engine.emit`` (under the engine lock) and only
queues deliveries; a background thread sends them, so API calls never wait for an endpoint.
``flush`` sends everything due, synchronously, and waits for the background thread's batch.

Invariants:

* each attempt is signed afresh: ``Stripe-Signature: t=<wall time>,v1=<hmac>,v0=<fake>``
  with ``v1 = HMAC-SHA256(secret, f"{t}.{body}")`` (reference §4.2), so a verifier with a
  300 s tolerance accepts it however far the sandbox clock was advanced;
* due times are sandbox time; a failed attempt (non-2xx, timeout, connection error) is retried
  after ``config.webhook_retry_delays[n]`` sandbox seconds, then given up;
* chaos: ``drop`` (probability; the event stays listable, ``delivery_success`` false),
  ``duplicate`` (probability of a second identical delivery), ``delay`` (sandbox seconds
  added), ``reorder`` (each delivery gets a random extra delay in ``[0, reorder]`` seconds).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import random
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

from paywindow.sandbox.engine import Engine
from paywindow.sandbox.wire import Obj

__all__ = ["Chaos", "Dispatcher", "sign"]

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value for one attempt (with a fake test-mode ``v0``)."""
    payload = f"{timestamp}.".encode() + body
    v1 = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={v1},v0={secrets.token_hex(32)}"


@dataclass
class Chaos:
    """Switches that make delivery misbehave the ways Stripe's does (see module docstring)."""

    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    reorder: float = 0.0
    types: list[str] | None = None
    seed: int | None = None

    def applies(self, event_type: str) -> bool:
        return self.types is None or event_type in self.types


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    event_id: str = field(compare=False)
    endpoint_id: str = field(compare=False)
    attempt: int = field(compare=False, default=1)


class Dispatcher:
    """Queues, signs and sends webhook deliveries for one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.chaos = Chaos()
        self._rng = random.Random()
        self._queue: list[_Delivery] = []
        self._bodies: dict[str, bytes] = {}
        self._seq = 0
        self._cv = threading.Condition()
        self._deliver_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=engine.config.webhook_timeout)
        self.log: deque[Obj] = deque(maxlen=1000)
        self._refs: dict[str, int] = {}
        engine.event_sink = self.on_event

    def set_chaos(self, chaos: Chaos) -> None:
        """Replace the chaos switches (and reseed the random source when a seed is given)."""
        self.chaos = chaos
        self._rng = random.Random(chaos.seed)

    def on_event(self, event: Obj) -> int:
        """Queue one delivery per matching endpoint; returns how many endpoints match."""
        endpoints = self._matching(event)
        event["pending_webhooks"] = len(endpoints)
        if not endpoints:
            return 0
        self.engine.store.extra(event["id"])["webhooks"] = len(endpoints)
        body = json.dumps(event, indent=2).encode()
        now = self.engine.clock.now()
        with self._cv:
            self._bodies[event["id"]] = body
            for endpoint in endpoints:
                self._plan(event, endpoint["id"], now)
            self._cv.notify()
        return len(endpoints)

    def _matching(self, event: Obj) -> list[Obj]:
        connect_event = "account" in event
        found = []
        for endpoint in self.engine.store.newest_first("webhook_endpoint", None):
            wanted = endpoint["enabled_events"]
            if (
                endpoint["status"] == "enabled"
                and bool(self.engine.store.extra(endpoint["id"]).get("connect")) == connect_event
                and ("*" in wanted or event["type"] in wanted)
            ):
                found.append(endpoint)
        return found

    def _plan(self, event: Obj, endpoint_id: str, now: float) -> None:
        chaos = self.chaos
        if not chaos.applies(event["type"]):
            self._push(now, event["id"], endpoint_id, 1)
            return
        if chaos.drop and self._rng.random() < chaos.drop:
            self.log.append({"event": event["id"], "endpoint": endpoint_id, "result": "dropped"})
            return
        due = now + chaos.delay + (self._rng.uniform(0, chaos.reorder) if chaos.reorder else 0)
        self._push(due, event["id"], endpoint_id, 1)
        if chaos.duplicate and self._rng.random() < chaos.duplicate:
            self._push(
                due + (self._rng.uniform(0, chaos.reorder) if chaos.reorder else 0),
                event["id"],
                endpoint_id,
                1,
            )

    def _push(self, due: float, event_id: str, endpoint_id: str, attempt: int) -> None:
        self._seq += 1
        self._refs[event_id] = self._refs.get(event_id, 0) + 1
        heapq.heappush(self._queue, _Delivery(due, self._seq, event_id, endpoint_id, attempt))

    def _pop_due(self) -> list[_Delivery]:
        now = self.engine.clock.now()
        batch = []
        with self._cv:
            while self._queue and self._queue[0].due <= now:
                batch.append(heapq.heappop(self._queue))
        return batch

    def pending(self) -> int:
        """Deliveries queued (due or not)."""
        with self._cv:
            return len(self._queue)

    def flush(self) -> int:
        """Fire due timers and send every due delivery now; returns how many were sent."""
        sent = 0
        with self._deliver_lock:
            while True:
                self.engine.tick()
                batch = self._pop_due()
                if not batch:
                    return sent
                for delivery in batch:
                    self._deliver(delivery)
                sent += len(batch)

    def start(self) -> None:
        """Start the background sender (which also fires due timers in real time)."""
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background sender and close the HTTP client."""
        self._stop.set()
        with self._cv:
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.engine.tick()
                with self._deliver_lock:
                    for delivery in self._pop_due():
                        self._deliver(delivery)
            except Exception as exc:  # keep the sender alive whatever one delivery does
                self.log.append({"result": "sender_error", "error": repr(exc)})
            with self._cv:
                self._cv.wait(timeout=0.05)

    def _deliver(self, delivery: _Delivery) -> None:
        try:
            self._attempt(delivery)
        finally:
            with self._cv:
                left = self._refs[delivery.event_id] - 1
                self._refs[delivery.event_id] = left
                if left == 0:
                    del self._refs[delivery.event_id]
                    self._bodies.pop(delivery.event_id, None)

    def _attempt(self, delivery: _Delivery) -> None:
        endpoint = self.engine.store.objects.get(delivery.endpoint_id)
        body = self._bodies.get(delivery.event_id)
        if endpoint is None or body is None or endpoint["status"] != "enabled":
            return
        secret = str(self.engine.store.extra(endpoint["id"])["secret"])
        status = self._post(endpoint["url"], body, secret)
        ok = status is not None and 200 <= status < 300
        self.log.append(
            {
                "event": delivery.event_id,
                "endpoint": endpoint["id"],
                "attempt": delivery.attempt,
                "status": status,
                "result": "delivered" if ok else "failed",
            }
        )
        if ok:
            self._mark_delivered(delivery.event_id)
        else:
            self._retry(delivery)

    def _post(self, url: str, body: bytes, secret: str) -> int | None:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": sign(body, secret, int(time.time())),
        }
        try:
            return self._client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError:
            return None

    def _mark_delivered(self, event_id: str) -> None:
        with self.engine.lock:
            event = self.engine.store.objects.get(event_id)
            if event is not None:
                event["pending_webhooks"] = max(0, int(event["pending_webhooks"]) - 1)
                self.engine.store.extra(event_id)["delivered"] = True
                self.engine.store.dirty = True

    def _retry(self, delivery: _Delivery) -> None:
        delays = self.engine.config.webhook_retry_delays
        if delivery.attempt > len(delays):
            return
        due = self.engine.clock.now() + delays[delivery.attempt - 1]
        with self._cv:
            self._push(due, delivery.event_id, delivery.endpoint_id, delivery.attempt + 1)

    def status(self) -> dict[str, Any]:
        """Queue length and the most recent delivery results."""
        return {"pending": self.pending(), "recent": list(self.log)[-50:]}
