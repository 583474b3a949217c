"""paywindow's offline Stripe sandbox: a stateful, wire-compatible Stripe emulator.

The official ``stripe`` SDK talks to it over HTTP. Domain code never imports this package;
tests, the demo and benchmarks use ``running_sandbox()``, and ``paywindow sandbox`` serves it.

    with running_sandbox() as sb:
        stripe_client = sb.client()
        session = stripe_client.v1.checkout.sessions.create(params={...})
        sb.pay(session.id, "success")
        sb.advance(86_400)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import stripe
import uvicorn

from paywindow.sandbox.engine import SandboxConfig
from paywindow.sandbox.server import Sandbox, SandboxApp, register_endpoint, uvicorn_config
from paywindow.stripe_ids import new_id

__all__ = ["SandboxControlError", "SandboxHandle", "free_port", "running_sandbox"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now, for a test or benchmark server."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class SandboxControlError(RuntimeError):
    """A control-API call (``/_sandbox/...``) was refused."""


def _instant(value: datetime | float | str) -> float | str:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.timestamp()
    return value


@dataclass
class SandboxHandle:
    """A running sandbox: its address, API key and control-API helpers."""

    base_url: str
    api_key: str
    sandbox: Sandbox
    http: httpx.Client

    @property
    def platform_account(self) -> str:
        """The id of the platform account the API key belongs to."""
        return self.sandbox.engine.store.platform

    def client(self, max_network_retries: int = 0) -> stripe.StripeClient:
        """A ``stripe.StripeClient`` pointed at this sandbox."""
        base = self.base_url
        return stripe.StripeClient(
            self.api_key,
            base_addresses={"api": base, "connect": base, "files": base},
            max_network_retries=max_network_retries,
        )

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the control API; raises ``SandboxControlError`` on a non-200 answer."""
        response = self.http.request(method, path, json=body)
        if response.status_code != 200:
            raise SandboxControlError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def now(self) -> datetime:
        """Sandbox time."""
        return datetime.fromtimestamp(self.control("GET", "/_sandbox/clock")["now_float"], UTC)

    def set_clock(self, when: datetime | float | str) -> datetime:
        """Jump the clock (effects due before ``when`` fire)."""
        self.control("POST", "/_sandbox/clock", {"set": _instant(when)})
        return self.now()

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move the clock forward; expiries, settlements and payouts due meanwhile fire."""
        step = seconds.total_seconds() if isinstance(seconds, timedelta) else seconds
        self.control("POST", "/_sandbox/clock", {"advance": step})
        return self.now()

    def freeze(self, frozen: bool = True) -> None:
        """Freeze (or unfreeze) the clock."""
        self.control("POST", "/_sandbox/clock", {"frozen": frozen})

    def pay(self, session_id: str, outcome: str = "success", **options: Any) -> dict[str, Any]:
        """A buyer attempt on an open session (see docs/sandbox.md for ``options``)."""
        body = {"outcome": outcome, **options}
        if "async_" in body:
            body["async"] = body.pop("async_")
        result: dict[str, Any] = self.control(
            "POST", f"/_sandbox/checkout/sessions/{session_id}/pay", body
        )
        return result

    def register_webhook(
        self,
        url: str,
        secret: str | None = None,
        enabled_events: list[str] | None = None,
        connect: bool = False,
    ) -> str:
        """Register a webhook endpoint; returns its ``whsec_`` signing secret."""
        body: dict[str, Any] = {
            "url": url,
            "secret": secret,
            "enabled_events": enabled_events or ["*"],
            "connect": connect,
        }
        return str(self.control("POST", "/_sandbox/webhooks", body)["secret"])

    def faults(
        self, *, latency_ms: float = 0.0, fail_next: int = 0, fail_status: int = 500
    ) -> dict[str, Any]:
        """Slow every API answer by ``latency_ms`` and/or fail the next ``fail_next`` ones."""
        body = {"latency_ms": latency_ms, "fail_next": fail_next, "fail_status": fail_status}
        result: dict[str, Any] = self.control("POST", "/_sandbox/faults", body)
        return result

    def chaos(self, **switches: Any) -> dict[str, Any]:
        """Set delivery chaos: drop, duplicate, delay, reorder, types, seed (docs/sandbox.md)."""
        result: dict[str, Any] = self.control("POST", "/_sandbox/chaos", switches)
        return result

    def flush_webhooks(self) -> int:
        """Deliver every due webhook now and wait; returns how many attempts were made."""
        return int(self.control("POST", "/_sandbox/webhooks/flush")["sent"])

    def webhook_log(self) -> dict[str, Any]:
        """Pending delivery count and recent delivery results."""
        result: dict[str, Any] = self.control("GET", "/_sandbox/webhooks")
        return result

    def open_dispute(
        self, charge: str, reason: str = "fraudulent", amount: int | None = None
    ) -> dict[str, Any]:
        """Open a dispute on a charge (funds and dispute fee withdrawn)."""
        body = {"charge": charge, "reason": reason, "amount": amount}
        result: dict[str, Any] = self.control("POST", "/_sandbox/disputes", body)
        return result

    def close_dispute(self, dispute: str, outcome: str = "won") -> dict[str, Any]:
        """Close a dispute as ``won`` or ``lost``."""
        body = {"outcome": outcome}
        result: dict[str, Any] = self.control("POST", f"/_sandbox/disputes/{dispute}/close", body)
        return result

    def script_payment_method(
        self,
        payment_method: str,
        outcomes: list[dict[str, Any]],
        default: dict[str, Any] | None = None,
    ) -> None:
        """Script the next outcomes of a saved payment method (off-session attempts)."""
        body = {"outcomes": outcomes, "default": default}
        self.control("POST", f"/_sandbox/payment_methods/{payment_method}", body)

    def buyers(self, enabled: bool = True, seed: int | None = None, **model: Any) -> None:
        """Let the buyer population pay new sessions (``model`` overrides ``BuyerModel``)."""
        body = {"enabled": enabled, "seed": seed, "model": model}
        self.control("POST", "/_sandbox/buyers", body)

    def notify_buyer(self, session_id: str) -> bool:
        """Tell the buyer of a retry-link session about it (``links_need_notice`` mode)."""
        result: dict[str, Any] = self.control(
            "POST", "/_sandbox/buyers/notify", {"session": session_id}
        )
        return bool(result["notified"])

    def configure(self, **settings: Any) -> None:
        """Change fees, availability delay, payouts or webhook retry delays at run time."""
        self.control("POST", "/_sandbox/config", settings)


def _config(api_key: str, options: dict[str, Any]) -> SandboxConfig:
    config = SandboxConfig(api_key=api_key)
    for key, value in options.items():
        if value is None:
            continue
        if key == "fee_percent":
            value = Decimal(str(value))
        setattr(config, key, value)
    return config


@contextmanager
def running_sandbox(
    *,
    start: datetime | None = None,
    frozen: bool = True,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    fee_percent: float | str | Decimal | None = None,
    fee_fixed: int | None = None,
    **options: Any,
) -> Iterator[SandboxHandle]:
    """Run a sandbox on a free loopback port in a background thread; stop it on exit.

    ``options`` set other ``SandboxConfig`` fields (``payouts``, ``available_days``,
    ``dispute_fee``, ``webhook_retry_delays``, ...) and ``state_file``.
    """
    state_file = options.pop("state_file", None)
    api_key = new_id("sk_test", 24)
    config = _config(api_key, {"fee_percent": fee_percent, "fee_fixed": fee_fixed, **options})
    first = start.timestamp() if start is not None else None
    sandbox = Sandbox(config, state_file, start=first, frozen=frozen)
    if webhook_url:
        register_endpoint(sandbox, webhook_url, webhook_secret)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(SandboxApp(sandbox), "127.0.0.1", port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=base_url, timeout=60)
    try:
        _wait_started(server, thread)
        yield SandboxHandle(base_url, api_key, sandbox, http)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        http.close()
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.002)
