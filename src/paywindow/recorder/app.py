"""The recorder: an ASGI app that takes Stripe webhooks and answers only once they are durable.

Order of trust (dj-stripe's lesson): check size, then verify the signature with the stripe SDK,
then check the envelope, then commit the raw bytes exactly as received. Applying the event to
orders happens later, in the processor. A delivery is answered 2xx only after its row (or an
earlier row with the same event id) is committed; if the database cannot take it in time the
answer is 503 and Stripe delivers again. Nothing a client sends can produce a 500.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, text
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from paywindow.clock import Clock
from paywindow.errors import StoreUnavailable, WebhookRejected
from paywindow.payments.runner import ProcessorThread
from paywindow.recorder.verify import parse_event, verify_signature
from paywindow.recorder.writer import EventWriter, event_row

__all__ = ["RecorderConfig", "create_app"]

log = logging.getLogger(__name__)

_KEPT_HEADERS = ("stripe-signature", "user-agent", "content-type", "content-length")


@dataclass
class RecorderConfig:
    engine: Engine
    clock: Clock
    secrets: list[str]
    tolerance: int = 300
    max_body: int = 512 * 1024
    run_processor: bool = True
    poll_interval: float = 1.0
    max_attempts: int = 12
    counters: Counter[str] = field(default_factory=Counter)


def create_app(config: RecorderConfig) -> FastAPI:
    """Build the recorder app; the processor thread starts and stops with it."""
    processor = (
        ProcessorThread(
            config.engine,
            config.clock,
            poll=config.poll_interval,
            max_attempts=config.max_attempts,
        )
        if config.run_processor
        else None
    )
    writer = EventWriter(config.engine, on_commit=processor.wake if processor else None)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await writer.start()
        if processor is not None:
            processor.start()
        try:
            yield
        finally:
            if processor is not None:
                processor.stop()
            await writer.stop()

    app = FastAPI(title="paywindow", lifespan=lifespan, openapi_url=None, docs_url=None)
    app.state.config = config
    app.state.writer = writer

    async def webhook(request: Request) -> Response:
        counters = config.counters
        counters["webhooks.received"] += 1
        try:
            row = await _checked_row(request, config)
            is_new = await writer.submit(row)
        except WebhookRejected as exc:
            counters["webhooks.rejected"] += 1
            counters[f"webhooks.rejected.{exc.reason}"] += 1
            return _error(exc.status, exc.reason, exc.message)
        except StoreUnavailable as exc:
            counters["webhooks.unavailable"] += 1
            log.warning("webhook not recorded, database unavailable: %s", exc)
            return _error(503, "unavailable", "could not record the event; retry later")
        counters["webhooks.recorded" if is_new else "webhooks.duplicate"] += 1
        status = "recorded" if is_new else "duplicate"
        return JSONResponse({"received": True, "status": status, "id": row["event_id"]})

    async def healthz(_request: Request) -> Response:
        try:
            with config.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, 503)
        return JSONResponse({"status": "ok", "counters": dict(config.counters)})

    app.router.add_route("/webhooks/stripe", webhook, methods=["POST"])
    app.router.add_route("/healthz", healthz, methods=["GET"])
    _install_error_handlers(app)
    return app


async def _checked_row(request: Request, config: RecorderConfig) -> dict[str, Any]:
    body = await _read_body(request, config.max_body)
    verify_signature(
        body, request.headers.get("stripe-signature"), config.secrets, config.tolerance
    )
    event = parse_event(body)
    headers = {name: request.headers[name] for name in _KEPT_HEADERS if name in request.headers}
    return event_row(
        body,
        event,
        received_at=config.clock.now(),
        source="webhook",
        headers=headers,
        remote_addr=request.client.host if request.client else None,
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise WebhookRejected(413, "too_large", f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(413, "too_large", f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    async def unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error in the recorder", exc_info=exc)
        return _error(503, "unavailable", "temporary failure; retry later")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
