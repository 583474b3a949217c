"""Live order status over real HTTP: ``GET /v1/orders/{id}/events`` (Server-Sent Events) read
with httpx streaming from the served app. The buyer's webview sees the payment as it commits,
the deadline flip without polling, and a reconnect with ``Last-Event-ID`` resumes without gaps
and without repeats."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from paywindow.notify.live import LiveConfig
from paywindow.payments import close_window
from paywindow.store.tables import order_transitions
from tests.world import SUPPORT_TOKEN, TOKEN, World, build_world

FAST = LiveConfig(tick=0.2, poll=0.05, expired_grace=timedelta(minutes=10), max_stream=30)


@dataclass
class Event:
    event: str
    data: dict[str, Any]
    id: int | None = None


@dataclass
class Stream:
    response: httpx.Response
    lines: Iterator[str]
    retry: int | None = None
    seen: list[Event] = field(default_factory=list)

    def next(self, *, skip_ticks: bool = True) -> Event | None:
        """The next event (None once the server closed the stream)."""
        while True:
            fields: dict[str, str] = {}
            for line in self.lines:
                if line == "":
                    if fields:
                        break
                    continue
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            else:
                if not fields:
                    return None
            if "retry" in fields and "event" not in fields:
                self.retry = int(fields["retry"])
                continue
            event = Event(
                fields["event"],
                json.loads(fields["data"]),
                int(fields["id"]) if "id" in fields else None,
            )
            self.seen.append(event)
            if skip_ticks and event.event == "tick":
                continue
            return event

    def rest(self) -> list[Event]:
        """Every event until the server ends the stream, ticks left out."""
        events = []
        while (event := self.next()) is not None:
            events.append(event)
        return events


@contextmanager
def stream(
    world: World, order_id: str, *, token: str = TOKEN, last_event_id: int | None = None
) -> Iterator[Stream]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    url = f"{world.url}/v1/orders/{order_id}/events"
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        yield Stream(response, response.iter_lines())


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    with build_world(engine, window=timedelta(hours=1)) as world:
        world.service.live = FAST
        yield world


def _transitions(engine: Engine, order_id: str) -> list[tuple[int, str]]:
    query = (
        select(order_transitions.c.id, order_transitions.c.to_state)
        .where(order_transitions.c.order_id == order_id)
        .order_by(order_transitions.c.id)
    )
    with engine.connect() as conn:
        return [(row.id, row.to_state) for row in conn.execute(query)]


def _open(world: World, order_id: str) -> str:
    created = world.create(order_id)
    assert created.status_code == 201, created.text
    return str(created.json()["session_id"])


def test_the_webview_sees_paid_as_the_payment_commits(world: World) -> None:
    session = _open(world, "ord_live_paid")
    with stream(world, "ord_live_paid") as live:
        first = live.next()
        assert first is not None and first.event == "state"
        assert first.data["state"] == "awaiting_payment"
        assert first.data["seconds_remaining"] == 3600
        assert first.data["server_time"] == world.now().isoformat()
        assert first.id == 0  # no state change yet: resume from the beginning
        assert live.retry == FAST.retry_ms
        tick = live.next(skip_ticks=False)
        assert tick is not None and tick.event == "tick"
        assert tick.data["state"] == "awaiting_payment" and tick.id is None

        world.advance(60)
        world.sandbox.pay(session, "success")
        world.settle()
        paid, end = live.next(), live.next()
        assert live.next() is None  # the server closed the stream
    changes = _transitions(world.engine, "ord_live_paid")
    assert changes and changes[-1][1] == "paid"
    assert paid is not None and paid.event == "state" and paid.id == changes[-1][0]
    assert paid.data["state"] == "paid" and paid.data["previous_state"] == "awaiting_payment"
    assert paid.data["seconds_remaining"] == 0
    assert paid.data["server_time"] == world.now().isoformat()
    assert end is not None and end.event == "end" and end.data["state"] == "paid"


def test_a_reconnect_with_last_event_id_gets_exactly_the_changes_after_it(world: World) -> None:
    session = _open(world, "ord_live_resume")
    with stream(world, "ord_live_resume") as live:
        assert live.next() is not None  # the view
        world.sandbox.pay(session, "decline")
        world.settle()
        failed = live.next()
        assert failed is not None and failed.data["state"] == "payment_failed"
        assert failed.id is not None
    # disconnected: the buyer pays with another card meanwhile
    world.sandbox.pay(session, "success")
    world.settle()
    changes = _transitions(world.engine, "ord_live_resume")
    assert [state for _, state in changes] == ["payment_failed", "paid"]
    assert failed.id == changes[0][0]

    with stream(world, "ord_live_resume", last_event_id=failed.id) as resumed:
        events = resumed.rest()
    assert [(e.event, e.id, e.data["state"]) for e in events] == [
        ("state", changes[1][0], "paid"),
        ("end", None, "paid"),
    ]
    with stream(world, "ord_live_resume", last_event_id=0, token=SUPPORT_TOKEN) as replayed:
        events = replayed.rest()
    assert [(e.id, e.data["state"]) for e in events if e.event == "state"] == changes
    assert events[-1].event == "end"
    # settled at the id given: 204, so EventSource stops reconnecting
    done = world.api(
        "GET", "/v1/orders/ord_live_resume/events", headers={"Last-Event-ID": str(changes[1][0])}
    )
    assert done.status_code == 204 and done.content == b""
    # a fresh connection to a settled order: its view, then the end
    with stream(world, "ord_live_resume") as fresh:
        events = fresh.rest()
    assert [(e.event, e.id, e.data["state"]) for e in events] == [
        ("state", changes[1][0], "paid"),
        ("end", None, "paid"),
    ]


def test_the_stream_flips_to_expired_at_the_deadline_and_ends_after_the_grace(
    world: World,
) -> None:
    _open(world, "ord_live_expiry")
    with stream(world, "ord_live_expiry") as live:
        assert live.next() is not None
        world.advance(timedelta(hours=1))  # the deadline, before the expiry flow ran
        flipped = live.next()
        assert flipped is not None and flipped.event == "state" and flipped.id is None
        assert flipped.data["state"] == "expired" and flipped.data["seconds_remaining"] == 0
        assert flipped.data["previous_state"] == "awaiting_payment"

        assert close_window(world.engine, "ord_live_expiry", world.now())  # the flow catches up
        closed = live.next()
        changes = _transitions(world.engine, "ord_live_expiry")
        assert changes == [(changes[0][0], "expired")]
        assert closed is not None and closed.id == changes[0][0]
        assert closed.data["state"] == "expired"

        tick = live.next(skip_ticks=False)  # still open: a payment made in time may arrive
        assert tick is not None and tick.event == "tick" and tick.data["state"] == "expired"
        world.advance(FAST.expired_grace)
        end = live.next()
        assert end is not None and end.event == "end" and end.data["state"] == "expired"
        assert live.next() is None


def test_a_reconnect_across_the_deadline_is_told_expired(world: World) -> None:
    _open(world, "ord_live_late")
    world.advance(timedelta(hours=1, seconds=5))
    with stream(world, "ord_live_late", last_event_id=0) as resumed:
        flip = resumed.next(skip_ticks=False)
        tick = resumed.next(skip_ticks=False)  # at once on a resume: the server time
    assert flip is not None and tick is not None
    assert (flip.event, flip.id, flip.data["state"]) == ("state", None, "expired")
    assert (tick.event, tick.data["server_time"]) == ("tick", world.now().isoformat())


def test_a_stream_closes_after_max_stream_and_resumes(world: World) -> None:
    world.service.live = LiveConfig(tick=0.1, poll=0.05, max_stream=0.3)
    _open(world, "ord_live_short")
    with stream(world, "ord_live_short") as live:
        events = live.rest()  # closed by the server without an end: the browser reconnects
    assert [e.event for e in events] == ["state"]
    assert {e.event for e in live.seen[1:]} == {"tick"}


def test_auth_and_bad_input(world: World) -> None:
    _open(world, "ord_live_auth")
    path = "/v1/orders/ord_live_auth/events"
    assert httpx.get(world.url + path).status_code == 401
    assert world.api("GET", path, token="nope").status_code == 401
    world.service.admin_token = "admin-" + TOKEN
    forbidden = world.api("GET", path, token="admin-" + TOKEN)
    assert forbidden.status_code == 403
    for bad in ("abc", "-1", "1.5", str(2**63), "9" * 30):
        answer = world.api("GET", path, headers={"Last-Event-ID": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["error"]["field"] == "Last-Event-ID"
    assert world.api("GET", "/v1/orders/ord_nope/events").status_code == 404
    assert world.api("GET", "/v1/orders/bad%20id!/events").status_code == 404
