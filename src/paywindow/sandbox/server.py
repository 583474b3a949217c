"""The sandbox HTTP server: a raw ASGI app speaking Stripe's wire protocol, run by uvicorn.

Request path for ``/v1/...``: authenticate (``Authorization: Bearer``), resolve
``Stripe-Account``, check ``Stripe-Version``, decode form parameters, replay or check the
``Idempotency-Key``, then run the handler under the engine lock after firing due timers.
Every response carries ``Request-Id`` and ``Stripe-Version``; replays add
``Idempotent-Replayed: true`` and ``Original-Request``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import pathlib
import re
import threading
from dataclasses import dataclass
from typing import Any

import uvicorn

from paywindow.sandbox import pages
from paywindow.sandbox.clock import SandboxClock
from paywindow.sandbox.control import CONTROL
from paywindow.sandbox.engine import API_VERSION, ROUTES, Ctx, Engine, SandboxConfig
from paywindow.sandbox.resources import install
from paywindow.sandbox.resources.balance import schedule_payouts
from paywindow.sandbox.resources.events import create_endpoint
from paywindow.sandbox.store import Store, write_text_atomic
from paywindow.sandbox.webhooks import Dispatcher
from paywindow.sandbox.wire import Obj, StripeError, decode_form
from paywindow.stripe_ids import new_id

__all__ = ["Sandbox", "SandboxApp", "register_endpoint", "run", "uvicorn_config"]

install()
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_IDEM_PARAMS = (
    "Keys for idempotent requests can only be used with the same parameters they were first "
    "used with. Try using a key other than '{key}' if you meant to execute a different request."
)
_IDEM_PATH = (
    "Keys for idempotent requests can only be used for the same endpoint they were first used "
    "for ('{new}' vs '{old}'). Try using a key other than '{key}' if you meant to execute a "
    "different request."
)


class Sandbox:
    """One sandbox: engine, webhook dispatcher and optional state file."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        state_file: pathlib.Path | None = None,
        *,
        start: float | None = None,
        frozen: bool = False,
    ) -> None:
        self.state_file = state_file
        store, clock = self._load(state_file, start, frozen)
        self.engine = Engine(config or SandboxConfig(), store, clock)
        self.dispatcher = Dispatcher(self.engine)
        schedule_payouts(self.engine, self.engine.now())
        self._stop = threading.Event()
        self._saver: threading.Thread | None = None

    @staticmethod
    def _load(
        state_file: pathlib.Path | None, start: float | None, frozen: bool
    ) -> tuple[Store, SandboxClock]:
        if state_file is not None and state_file.exists():
            data = json.loads(state_file.read_text(encoding="utf-8"))
            return Store.load(data["store"]), SandboxClock.load(data["clock"])
        return Store(new_id("acct", 16)), SandboxClock(start, frozen)

    def start(self) -> None:
        """Start the webhook sender and, with a state file, the periodic saver."""
        self.dispatcher.start()
        if self.state_file is not None:
            self._saver = threading.Thread(target=self._save_loop, daemon=True)
            self._saver.start()

    def stop(self) -> None:
        """Stop background threads and save the state one last time."""
        self._stop.set()
        self.dispatcher.stop()
        if self._saver is not None:
            self._saver.join(timeout=5)
        self.save()

    def save(self) -> None:
        """Write the state file (no-op without one)."""
        if self.state_file is None:
            return
        with self.engine.lock:  # serialise under the lock: objects change between requests
            data = {"store": self.engine.store.dump(), "clock": self.engine.clock.dump()}
            text = json.dumps(data, separators=(",", ":"))
            self.engine.store.dirty = False
        write_text_atomic(self.state_file, text)

    def _save_loop(self) -> None:
        while not self._stop.wait(1.0):
            if self.engine.store.dirty:
                self.save()


def _header_map(scope: Obj) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


@dataclass
class Faults:
    """API faults for tests and benchmarks (``POST /_sandbox/faults``).

    ``latency_ms`` delays every ``/v1/`` answer (without blocking other requests);
    ``fail_next`` answers that many ``/v1/`` requests with ``fail_status`` (500, 503 or 429)
    before serving normally again.
    """

    latency_ms: float = 0.0
    fail_next: int = 0
    fail_status: int = 500


class SandboxApp:
    """The raw ASGI application of a ``Sandbox``."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.engine = sandbox.engine
        self.faults = Faults()

    async def _injected(self, send: Any) -> bool:
        """Apply configured latency; answer with an injected failure if one is due."""
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        if self.faults.fail_next <= 0:
            return False
        self.faults.fail_next -= 1
        status = self.faults.fail_status
        kind = "invalid_request_error" if status == 429 else "api_error"
        body = {"error": {"type": kind, "message": "Sandbox injected failure."}}
        await _respond(send, status, _dump(body), [(b"request-id", b"req_injected")])
        return True

    def _set_faults(self, body: bytes) -> tuple[int, bytes]:
        try:
            values = json.loads(body or b"{}")
            self.faults = Faults(**values)
        except (TypeError, ValueError) as exc:
            error = {"error": {"type": "invalid_request_error", "message": str(exc)}}
            return 400, _dump(error)
        return 200, _dump(vars(self.faults))

    async def __call__(self, scope: Obj, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        path: str = scope["path"]
        headers = _header_map(scope)
        if path == "/_sandbox/faults" and scope["method"] == "POST":
            status, payload = self._set_faults(body)
            await _respond(send, status, payload, [])
        elif path.startswith("/v1/"):
            if await self._injected(send):
                return
            status, payload, extra = self.api(scope["method"], path, scope, headers, body)
            await _respond(send, status, payload, extra)
        elif path.startswith("/_sandbox/"):
            status, payload = await self.control(scope["method"], path, headers, body)
            await _respond(send, status, payload, [])
        else:
            status, page, kind = pages.render(self.sandbox, scope["method"], path, body, headers)
            await _respond(send, status, page, [], kind.encode())

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.sandbox.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.sandbox.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _authenticate(self, headers: dict[str, str]) -> str:
        key = _api_key(headers.get("authorization", ""))
        if not key:
            raise StripeError(401, "invalid_request_error", _NO_KEY)
        expected = self.engine.config.api_key
        valid = key == expected if expected else key.startswith(("sk_test_", "rk_test_"))
        if not valid:
            message = f"Invalid API Key provided: {key[:8]}****{key[-4:]}"
            raise StripeError(401, "invalid_request_error", message, code="api_key_invalid")
        account = headers.get("stripe-account")
        if not account or account == self.engine.store.platform:
            return self.engine.store.platform
        if self.engine.store.get(account, "account") is None:
            message = (
                f"The provided key '{key[:8]}****{key[-4:]}' does not have access to account "
                f"'{account}' (or that account does not exist). Application access may have "
                "been revoked."
            )
            raise StripeError(403, "invalid_request_error", message, code="account_invalid")
        return account

    def api(
        self, method: str, path: str, scope: Obj, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """Serve one Stripe API request; returns status, JSON body and extra headers."""
        request_id = new_id("req", 14)
        version = headers.get("stripe-version", API_VERSION)
        extra = [(b"request-id", request_id.encode()), (b"stripe-version", version.encode())]
        key = headers.get("idempotency-key") if method == "POST" else None
        if key:
            extra.append((b"idempotency-key", key.encode("latin-1")))
        try:
            if key is not None and len(key) > 255:
                message = "Idempotency keys may be at most 255 characters long."
                raise StripeError(400, "invalid_request_error", message)
            account = self._authenticate(headers)
            if not _VERSION.match(version):
                raise StripeError(
                    400, "invalid_request_error", f"Invalid Stripe API version: {version}"
                )
            raw = body.decode() if method == "POST" else scope["query_string"].decode()
            params = decode_form(raw)
            with self.engine.lock:
                return self._dispatch(
                    method, path, params, account, request_id, key, headers, extra
                )
        except StripeError as error:
            return error.status, _dump(error.body()), extra

    def _dispatch(
        self,
        method: str,
        path: str,
        params: Obj,
        account: str,
        request_id: str,
        key: str | None,
        headers: dict[str, str],
        extra: list[tuple[bytes, bytes]],
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        cache_id = f"{account}\x00{key}"
        if key:
            cached = self._replay(cache_id, key, method, path, params)
            if cached is not None:
                extra.append((b"idempotent-replayed", b"true"))
                extra.append((b"original-request", cached["request_id"].encode()))
                return int(cached["status"]), cached["body"].encode(), extra
        handler, path_params = _match(method, path)
        self.engine.tick()
        ctx = Ctx(account, request_id, key, headers.get("host", "127.0.0.1"))
        try:
            result = handler(self.engine, ctx, params, **path_params)
            status, payload = 200, _dump(self.engine.expand(result, params))
        except StripeError as error:
            status, payload = error.status, _dump(error.body())
        if key and status not in (400, 409):
            self.engine.store.idempotency[cache_id] = {
                "method": method,
                "path": path,
                "params": params,
                "status": status,
                "body": payload.decode(),
                "request_id": request_id,
                "created": self.engine.now(),
            }
        return status, payload, extra

    def _replay(self, cache_id: str, key: str, method: str, path: str, params: Obj) -> Obj | None:
        cached = self.engine.store.idempotency.get(cache_id)
        if cached is None:
            return None
        if cached["path"] != path or cached["method"] != method:
            message = _IDEM_PATH.format(new=path, old=cached["path"], key=key)
            raise StripeError(400, "idempotency_error", message)
        if cached["params"] != params:
            raise StripeError(400, "idempotency_error", _IDEM_PARAMS.format(key=key))
        return cached

    async def control(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        """Serve one control-API request (``/_sandbox/...``)."""
        dispatcher = self.sandbox.dispatcher
        if path == "/_sandbox/webhooks/flush" and method == "POST":
            sent = await asyncio.get_running_loop().run_in_executor(None, dispatcher.flush)
            return 200, _dump({"sent": sent, "pending": dispatcher.pending()})
        try:
            data = json.loads(body) if body else {}
            for route_method, pattern, handler in CONTROL:
                found = pattern.match(path)
                if found and route_method == method:
                    ctx = Ctx(self.engine.store.platform, None, None, headers.get("host", ""))
                    with self.engine.lock:
                        self.engine.tick()
                        return 200, _dump(
                            handler(self.engine, dispatcher, ctx, data, **found.groupdict())
                        )
            raise _unrecognized(method, path)
        except StripeError as error:
            return error.status, _dump(error.body())
        except (ValueError, TypeError, KeyError) as exc:
            return 400, _dump({"error": {"type": "invalid_request_error", "message": str(exc)}})


def _api_key(auth: str) -> str:
    """The secret key from ``Bearer <key>`` or Basic auth with the key as user name."""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip()).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return ""
    return ""


def _unrecognized(method: str, path: str) -> StripeError:
    message = (
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/."
    )
    return StripeError(404, "invalid_request_error", message)


def _match(method: str, path: str) -> tuple[Any, dict[str, str]]:
    for route_method, pattern, handler in ROUTES:
        if route_method == method:
            found = pattern.match(path)
            if found:
                return handler, found.groupdict()
    raise _unrecognized(method, path)


def _dump(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(
    send: Any,
    status: int,
    payload: bytes,
    extra: list[tuple[bytes, bytes]],
    content_type: bytes = b"application/json",
) -> None:
    length = str(len(payload)).encode()
    headers = [(b"content-type", content_type), (b"content-length", length), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def uvicorn_config(app: SandboxApp, host: str, port: int) -> uvicorn.Config:
    """A fast uvicorn configuration for the sandbox (httptools, no access log)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="httptools",
        loop="auto",
        lifespan="on",
        access_log=False,
        log_level="warning",
        # longer than clients keep idle connections (httpx: 5 s), so the server never closes
        # one just as a client reuses it (a reset POST is not retried by the client)
        timeout_keep_alive=75,
    )


def run(
    host: str,
    port: int,
    state_file: pathlib.Path | None,
    *,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    **options: Any,
) -> None:
    """Serve a sandbox until interrupted (blocking). ``options`` go to ``SandboxConfig``."""
    sandbox = Sandbox(SandboxConfig(**options), state_file)
    if webhook_url:
        register_endpoint(sandbox, webhook_url, webhook_secret)
    uvicorn.Server(uvicorn_config(SandboxApp(sandbox), host, port)).run()


def register_endpoint(sandbox: Sandbox, url: str, secret: str | None) -> str:
    """Register a webhook endpoint for every event type; returns its signing secret."""
    engine = sandbox.engine
    with engine.lock:
        for endpoint in engine.store.newest_first("webhook_endpoint", None):
            if endpoint["url"] == url:
                return str(engine.store.extra(endpoint["id"])["secret"])
        created = create_endpoint(engine, url, ["*"], engine.now(), secret=secret)
    return str(created["secret"])
