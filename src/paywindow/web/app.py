"""The recorder: an ASGI app that takes Stripe webhooks and answers only once they are durable.

Order of trust (dj-stripe's lesson): check size, then verify the signature with the stripe SDK,
then check the envelope, then commit the raw bytes exactly as received. Applying the event to
orders happens later, in the processor. A delivery is answered 2xx only after its row (or an
earlier row with the same event id) is committed; if the database cannot take it in time the
answer is 503 and Stripe delivers again. A bug answers 500 with a correlation id (Stripe
delivers again too); nothing a client sends produces a 5xx. Every 5xx is reported and kept
(:mod:`paywindow.web.server_errors`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from sqlalchemy import Engine, text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from paywindow.clock import Clock
from paywindow.errors import ConfigError
from paywindow.inbox.worker import ProcessorThread
from paywindow.inbox.writer import EventWriter
from paywindow.notify import RelayConfig, RelayThread
from paywindow.web.errors import install_error_handlers
from paywindow.web.orders import OrdersService, install_orders_api
from paywindow.web.server_errors import (
    ServerErrorLog,
    ServerErrors,
)
from paywindow.web.webhooks import WebhookEndpoint

__all__ = ["RecorderConfig", "create_app"]

log = logging.getLogger(__name__)


@dataclass
class RecorderConfig:
    """What the recorder runs with; ``tolerance`` is the signature freshness, both ways."""

    engine: Engine
    clock: Clock
    secrets: list[str]
    tolerance: int = 300
    max_body: int = 512 * 1024
    run_processor: bool = True
    poll_interval: float = 1.0
    max_attempts: int = 12
    counters: Counter[str] = field(default_factory=Counter)
    orders: OrdersService | None = None
    #: the notification relay serve runs beside the processor (None: not in this process)
    relay: RelayConfig | None = None
    relay_poll_interval: float = 0.2

    def __post_init__(self) -> None:
        if self.tolerance <= 0:  # 0 must not mean "no age check"
            raise ConfigError(f"webhook tolerance must be positive seconds, not {self.tolerance}")


def create_app(config: RecorderConfig) -> WebhookEndpoint:
    """Build the recorder app; the processor (and relay) threads start and stop with it.

    The webhook path is served by :class:`WebhookEndpoint` in front of FastAPI; FastAPI
    serves the rest (``/healthz`` and, later, the order API) and runs the lifespan.
    """
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
    relay = (
        RelayThread(
            config.engine,
            config.clock,
            poll_interval=config.relay_poll_interval,
            config=config.relay,
        )
        if config.relay is not None
        else None
    )
    writer = EventWriter(config.engine, on_commit=processor.wake if processor else None)
    kept = ServerErrorLog(config.engine, config.clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        kept.start()
        await writer.start()
        if processor is not None:
            processor.start()
        if relay is not None:
            relay.start()
        try:
            yield
        finally:
            if relay is not None:
                relay.stop()
            if processor is not None:
                processor.stop()
            await writer.stop()
            kept.stop()

    app = FastAPI(title="paywindow", lifespan=lifespan, openapi_url=None, docs_url=None)
    app.state.config = config
    app.state.writer = writer

    async def healthz(_request: Request) -> Response:
        try:
            with config.engine.connect().execution_options(read_only=True) as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # unauthenticated: the reason goes to the log, not the body
            log.warning("healthz: database unavailable: %s: %s", type(exc).__name__, exc)
            return JSONResponse({"status": "unavailable"}, 503)
        return JSONResponse({"status": "ok", "counters": dict(config.counters)})

    app.router.add_route("/healthz", healthz, methods=["GET"])
    install_error_handlers(app)
    if config.orders is not None:
        install_orders_api(app, config.orders)
    return WebhookEndpoint(app, config, writer, ServerErrors(config.counters, kept))
