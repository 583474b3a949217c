"""``GET /v1/orders/{order_id}/events``: live order status as Server-Sent Events.

``install_orders_api`` mounts :data:`router` behind the app token (support may read too); it
reads the ``OrdersService`` (and its :class:`~paywindow.notify.live.LiveConfig`) from
``request.app.state.orders``. The stream:

1. ``retry: 2000`` (how soon a browser reconnects), then, on a fresh connection, a ``state``
   event with the order view (``order_view``: state, deadline, server_time, seconds_remaining)
   whose ``id`` is the order's latest transition id. The id is read *before* the view, so a
   change committed in between is sent again rather than missed.
2. One ``state`` event per row of ``order_transitions`` after that id, with ``id`` = the row's
   id: a browser reconnecting sends it back as ``Last-Event-ID`` and gets exactly the changes
   after it (then a ``tick`` at once, for the server time).
3. At the deadline an unpaid order reads as ``expired`` (``effective_state``) before the expiry
   flow writes it: a ``state`` event without ``id`` says so, so the resume position stays at
   the last real change and the flow's own transition is still sent when it comes.
4. ``tick`` every ``LiveConfig.tick`` seconds: server time, state and seconds remaining.
5. ``end`` once the order is settled for the buyer (:func:`paywindow.notify.live.settled`),
   then the stream closes; a stream also closes, without ``end``, after ``max_stream`` seconds
   (the browser resumes). A reconnect at an id where the order was already settled is 204,
   which makes EventSource stop.

The store is read every ``poll`` seconds (one indexed query per stream), in the thread pool.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from paywindow.errors import InvalidRequest
from paywindow.notify.live import (
    LiveConfig,
    order_clock,
    settled,
    sse,
    state_after,
    transitions_after,
)
from paywindow.payments import OPEN_STATES, OrderState, order_view
from paywindow.payments.window import effective_state, seconds_remaining
from paywindow.web.orders_schema import EVENT_SCHEMA, EVENTS_DESCRIPTION, MAX_CURSOR, errors

__all__ = ["EventStream", "router"]

router = APIRouter()

LAST_EVENT_ID = "Last-Event-ID"


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


def _resume_at(request: Request) -> int | None:
    raw = request.headers.get(LAST_EVENT_ID, "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"[0-9]{1,19}", raw) or int(raw) > MAX_CURSOR:
        raise InvalidRequest(
            f"{LAST_EVENT_ID} must be the id of an event this stream sent", field=LAST_EVENT_ID
        )
    return int(raw)


def _remaining(state: OrderState, deadline: datetime, now: datetime) -> int:
    counting = state in OPEN_STATES or state is OrderState.PROCESSING
    return seconds_remaining(deadline, now) if counting else 0


@router.get(
    "/v1/orders/{order_id}/events",
    response_model=None,
    openapi_extra={
        "parameters": [
            {
                "name": LAST_EVENT_ID,
                "in": "header",
                "required": False,
                "description": "Resume after this event id (EventSource sends it on reconnect).",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_CURSOR},
            }
        ]
    },
    responses={
        200: {
            "description": EVENTS_DESCRIPTION,
            "content": {"text/event-stream": {"schema": EVENT_SCHEMA}},
        },
        204: {"description": "The order was settled at Last-Event-ID: nothing more will come."},
        **errors(401, 403, 404, 413, 422, 503, e422="Last-Event-ID is not an event id."),
    },
)
async def order_events(order_id: str, request: Request) -> Response:
    """The order's state, live: its changes as they commit, the server time, and the deadline."""
    service = request.app.state.orders
    engine, clock, config = service.engine, service.clock, service.live
    resume = _resume_at(request)
    deadline, latest = await run_in_threadpool(order_clock, engine, order_id)
    first: list[str] = []
    if resume is None:
        cursor = latest  # before the view: a change in between is sent twice, never lost
        view = await run_in_threadpool(order_view, engine, order_id, clock.now())
        first.append(sse("state", view, event_id=cursor))
        told = OrderState(view["state"])
        known = await run_in_threadpool(state_after, engine, order_id, cursor)
    else:
        cursor = resume
        known = told = await run_in_threadpool(state_after, engine, order_id, resume)
        if latest <= resume and settled(told, deadline, clock.now(), config.expired_grace):
            return Response(status_code=204)
    stream = _Stream(
        engine=engine,
        clock=clock,
        config=config,
        order_id=order_id,
        deadline=deadline,
        cursor=cursor,
        known=known,
        told=told,
    )
    return EventStream(
        stream.events(first, tick_now=resume is not None),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class _Stream:
    """One client's stream: where it is (``cursor``), the stored state there (``known``) and
    the state it was last told (``told``, the deadline applied)."""

    def __init__(
        self,
        *,
        engine: Any,
        clock: Any,
        config: LiveConfig,
        order_id: str,
        deadline: datetime,
        cursor: int,
        known: OrderState,
        told: OrderState,
    ) -> None:
        self.engine, self.clock, self.config = engine, clock, config
        self.order_id, self.deadline = order_id, deadline
        self.cursor, self.known, self.told = cursor, known, told

    def _status(self, state: OrderState, now: datetime) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "state": state.value,
            "deadline": self.deadline.isoformat(),
            "server_time": now.isoformat(),
            "seconds_remaining": _remaining(state, self.deadline, now),
        }

    async def _changes(self) -> AsyncIterator[str]:
        """The stored changes after the cursor, then the deadline's flip if it is due."""
        found = await run_in_threadpool(transitions_after, self.engine, self.order_id, self.cursor)
        for change in found:
            data = self._status(change.to_state, self.clock.now())
            data.update(
                previous_state=change.from_state.value,
                reason=change.reason,
                at=change.at.isoformat(),
            )
            yield sse("state", data, event_id=change.id)
            self.cursor, self.known, self.told = change.id, change.to_state, change.to_state
        now = self.clock.now()
        current = effective_state(self.known, self.deadline, now)
        if current is not self.told:
            data = self._status(current, now)
            data.update(
                previous_state=self.told.value,
                reason="payment window closed",
                at=self.deadline.isoformat(),
            )
            yield sse("state", data)
            self.told = current

    async def events(self, first: list[str], *, tick_now: bool) -> AsyncIterator[str]:
        config = self.config
        started = time.monotonic()
        next_tick = started if tick_now else started + config.tick
        yield f"retry: {config.retry_ms}\n\n"
        for event in first:
            yield event
        while True:
            async for event in self._changes():
                yield event
            now = self.clock.now()
            if settled(self.told, self.deadline, now, config.expired_grace):
                yield sse("end", {"order_id": self.order_id, "state": self.told.value})
                return
            if time.monotonic() >= next_tick:
                yield sse("tick", self._status(self.told, now))
                next_tick = time.monotonic() + config.tick
            left = config.max_stream - (time.monotonic() - started)
            if left <= 0:
                return  # the browser reconnects with Last-Event-ID and resumes
            await asyncio.sleep(
                max(
                    0.01, min(config.poll, next_tick - time.monotonic(), left, self._until_due(now))
                )
            )

    def _until_due(self, now: datetime) -> float:
        """Seconds until the deadline flips the state or the grace after it ends the stream."""
        if self.told in OPEN_STATES and now < self.deadline:
            return (self.deadline - now).total_seconds()
        if self.told is OrderState.EXPIRED:
            return (self.deadline + self.config.expired_grace - now).total_seconds()
        return float("inf")
