"""The relay under the faults real endpoints and real databases have, over real HTTP: nothing is
lost, a redelivery keeps its ``webhook-id``, and redeliveries are counted and bounded.

Each test prints its counts (run with ``-s`` to see them): ``sent`` messages in the outbox,
``received`` distinct ``webhook-id``s the marketplace verified, ``redelivered`` verified
receipts beyond the first, ``attempts`` the relay recorded, ``lost`` messages never received.
Waits on the retry schedule and on leases are skipped with a :class:`ManualClock`.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from paywindow import notify
from paywindow.clock import ManualClock, SystemClock
from paywindow.notify.relay import RelayConfig
from paywindow.sandbox import free_port
from paywindow.sandbox.marketplace import Fault, Marketplace, running_marketplace, webhook_url
from paywindow.store import make_engine
from paywindow.store.outbox import write_message
from paywindow.store.tables import notification_attempts, notification_deliveries, outbox
from tests.factories import NOW

RELAY_LOG = "paywindow.notify.relay"


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture
def market() -> Iterator[Marketplace]:
    with running_marketplace() as running:
        yield running


def _endpoint(engine: Engine, market: Marketplace, url: str | None = None) -> notify.Endpoint:
    endpoint = notify.add_endpoint(engine, url or market.url, NOW)
    market.secrets.append(endpoint.secret)
    return endpoint


def _messages(engine: Engine, count: int, prefix: str = "ord", *, at: datetime = NOW) -> None:
    """``count`` messages, one order each, written in one transaction."""
    with engine.begin() as conn:
        for n in range(count):
            write_message(
                conn,
                topic="order.paid",
                dedupe_key=f"order.paid:{prefix}_{n}",
                payload={"order_id": f"{prefix}_{n}", "n": n},
                now=at,
                order_id=f"{prefix}_{n}",
            )


def _relay(engine: Engine, clock: ManualClock | SystemClock, **options: object) -> notify.Relay:
    settings: dict[str, object] = {"timeout": 2.0, "workers": 4, "jitter": 0.0} | options
    return notify.Relay(engine, clock, config=RelayConfig(**settings))  # type: ignore[arg-type]


def _sent(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {notify.message_id(i) for i in conn.execute(select(outbox.c.id)).scalars()}


def _statuses(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(notification_deliveries.c.status)).scalars()
        return Counter(rows)


def _attempts(engine: Engine, **where: object) -> list[dict[str, object]]:
    with engine.connect() as conn:
        query = select(notification_attempts)
        for name, value in where.items():
            query = query.where(notification_attempts.c[name] == value)
        return [dict(r) for r in conn.execute(query).mappings()]


def _next_due(engine: Engine) -> datetime | None:
    """When the next pending delivery can be claimed: due, and its lease (if any) run out."""
    d = notification_deliveries
    with engine.connect() as conn:
        rows = conn.execute(
            select(d.c.next_attempt_at, d.c.claimed_until).where(d.c.status == "pending")
        ).all()
    times = [max(r.next_attempt_at, r.claimed_until or r.next_attempt_at) for r in rows]
    return min(times) + timedelta(seconds=1) if times else None


def _drain(relay: notify.Relay, clock: ManualClock, engine: Engine, passes: int = 20) -> int:
    """Move the clock to the next due delivery and run a pass, until nothing is pending; how
    many passes it took."""
    for done in range(passes):
        due = _next_due(engine)
        if due is None:
            return done
        if due > clock.now():
            clock.set(due)
        relay.run_once()
    raise AssertionError(f"still pending after {passes} passes: {_statuses(engine)}")


def _settled(engine: Engine) -> bool:
    """Every message fanned out and no delivery pending."""
    with engine.connect() as conn:
        unpublished = conn.execute(
            select(func.count()).where(outbox.c.published_at.is_(None))
        ).scalar_one()
    return unpublished == 0 and _statuses(engine)["pending"] == 0


@dataclass(frozen=True)
class Counts:
    sent: int
    received: int
    redelivered: int
    attempts: int
    lost: int
    most: int  # the most times one message was received


def _counts(name: str, engine: Engine, *markets: Marketplace) -> Counts:
    """Print and check the counts (each message is sent to every marketplace given): every
    message received, none from nowhere, none rejected, every delivery settled delivered."""
    sent = _sent(engine)
    received = redelivered = most = 0
    lost: list[str] = []
    for market in markets:
        got = dict(market.deliveries)
        assert set(got) <= sent, "a webhook-id the outbox never had"
        assert market.rejected == 0
        received += len(got)
        redelivered += sum(n - 1 for n in got.values())
        most = max(most, *got.values(), 0)
        lost += sorted(sent - set(got))
    counts = Counts(
        sent=len(sent) * len(markets),
        received=received,
        redelivered=redelivered,
        attempts=len(_attempts(engine)),
        lost=len(lost),
        most=most,
    )
    print(
        f"\n{name}: sent={counts.sent}, received={counts.received}, "
        f"redelivered={counts.redelivered}, attempts={counts.attempts}, lost={counts.lost}"
    )
    assert counts.lost == 0, lost[:10]
    assert set(_statuses(engine)) == {"delivered"}, _statuses(engine)
    return counts


# -- the endpoint misbehaves ---------------------------------------------------------------


def test_endpoint_down_then_up(engine: Engine) -> None:
    """Nothing listens on the endpoint's port (connection refused); then the receiver comes up
    on it and everything arrives once."""
    port = free_port()
    market = Marketplace()
    _endpoint(engine, market, webhook_url(port))
    _messages(engine, 20)
    clock = ManualClock(NOW)
    with _relay(engine, clock) as relay:
        report = relay.run_once()
        assert (report.delivered, report.failed) == (0, 20)
        errors = {str(a["error"]).split(":")[0] for a in _attempts(engine)}
        assert errors == {"ConnectError"}
        clock.advance(5)
        assert relay.run_once().failed == 20  # still down at the second try
        with running_marketplace(market, port=port):
            passes = _drain(relay, clock, engine)
    counts = _counts("endpoint down then up", engine, market)
    assert (counts.redelivered, counts.attempts, passes) == (0, 60, 1)


def test_endpoint_slow(engine: Engine, market: Marketplace) -> None:
    """Every answer takes 0.3 s (well inside the timeout): delivered at the first try."""
    _endpoint(engine, market)
    _messages(engine, 16)
    market.fail(Fault(delay=0.3))
    clock = ManualClock(NOW)
    with _relay(engine, clock, timeout=2.0, workers=8) as relay:
        report = relay.run_once()
    assert (report.delivered, report.failed) == (16, 0)
    counts = _counts("endpoint slow", engine, market)
    assert (counts.redelivered, counts.attempts) == (0, 16)
    assert min(int(a["latency_ms"]) for a in _attempts(engine)) >= 300  # type: ignore[call-overload]


def test_endpoint_answering_500(engine: Engine, market: Marketplace) -> None:
    """The receiver answers 500 to its next 30 requests: those messages are tried again on
    the schedule (5 s, then 5 min) and all arrive, once."""
    _endpoint(engine, market)
    _messages(engine, 20)
    market.fail(Fault(status=500, times=30))
    clock = ManualClock(NOW)
    with _relay(engine, clock) as relay:
        first = relay.run_once()
        passes = 1 + _drain(relay, clock, engine)
    assert (first.delivered, first.failed) == (0, 20)
    counts = _counts("endpoint answering 500", engine, market)
    assert (counts.redelivered, counts.attempts, passes) == (0, 50, 3)
    assert len(_attempts(engine, status_code=500)) == 30
    assert market.requests == 50 and market.answered == 20


def test_endpoint_timing_out(engine: Engine, market: Marketplace) -> None:
    """Five answers take 0.6 s against a 0.2 s relay timeout: those tries fail (ReadTimeout),
    the receiver still handles them late, and the retry is a redelivery of the same
    ``webhook-id`` that the receiver recognises."""
    _endpoint(engine, market)
    _messages(engine, 10)
    market.fail(Fault(delay=0.6, times=5))
    clock = ManualClock(NOW)
    with _relay(engine, clock, timeout=0.2) as relay:
        first = relay.run_once()
        assert (first.delivered, first.failed) == (5, 5)
        deadline = time.monotonic() + 5
        while market.requests > len(market.received) and time.monotonic() < deadline:
            time.sleep(0.05)  # the slow answers finish on the receiver's side
        _drain(relay, clock, engine)
    timeouts = [a for a in _attempts(engine) if str(a["error"]).startswith("ReadTimeout")]
    assert len(timeouts) == 5
    counts = _counts("endpoint timing out", engine, market)
    assert (counts.redelivered, counts.attempts, counts.most) == (5, 15, 2)
    assert len(market.received) == 10  # deduplicated by webhook-id


def test_endpoint_closing_the_connection(engine: Engine, market: Marketplace) -> None:
    """The receiver closes the connection mid-answer ten times: the relay sees no status,
    records the error, and the retry delivers."""
    _endpoint(engine, market)
    _messages(engine, 20)
    market.fail(Fault(drop=True, times=10))
    clock = ManualClock(NOW)
    with _relay(engine, clock) as relay:
        first = relay.run_once()
        _drain(relay, clock, engine)
    assert (first.delivered, first.failed) == (10, 10)
    dropped = [a for a in _attempts(engine) if a["status_code"] is None]
    assert len(dropped) == 10
    assert {str(a["error"]).split(":")[0] for a in dropped} == {"RemoteProtocolError"}
    counts = _counts("endpoint closing the connection", engine, market)
    assert (counts.redelivered, counts.attempts) == (0, 30)


# -- the relay dies, or two run at once ----------------------------------------------------


def test_relay_killed_mid_delivery(engine: Engine, market: Marketplace) -> None:
    """A relay claims ten deliveries, sends five of them, and dies before settling any: until
    its lease runs out nobody touches them; then another relay delivers all ten, the five
    that had arrived again, with the same ``webhook-id``."""
    endpoint = _endpoint(engine, market)
    _messages(engine, 10)
    clock = ManualClock(NOW)
    dead = _relay(engine, clock, lease=timedelta(seconds=60))
    # the steps of run_once, stopped after the claim
    notify.sequence(engine)
    dead.fan_out()
    claimed = dead.claim()
    assert len(claimed) == 10
    # what the dead relay managed to send before it died: five signed posts, never settled
    with httpx.Client(timeout=2) as http:
        for one in claimed[:5]:
            msg = notify.message_id(one.message_id)
            sent = notify.headers([endpoint.secret], msg, int(time.time()), one.body)
            assert http.post(endpoint.url, content=one.body, headers=sent).status_code == 200
    dead.close()  # killed: no settle, no release
    with _relay(engine, clock) as survivor:
        assert survivor.run_once().attempted == 0  # the lease still holds
        clock.advance(59)
        assert survivor.run_once().attempted == 0
        clock.advance(2)  # the lease has run out
        report = survivor.run_once()
    assert report.delivered == 10
    first_five = {notify.message_id(c.message_id) for c in claimed[:5]}
    assert {m for m, n in market.deliveries.items() if n == 2} == first_five
    counts = _counts("relay killed mid-delivery", engine, market)
    assert (counts.redelivered, counts.attempts, counts.most) == (5, 10, 2)


def _run_together(relays: list[notify.Relay], engine: Engine, deadline: float) -> list[int]:
    """Run the relays in threads, pass after pass, until nothing is pending; each one's
    delivered count."""
    delivered = [0] * len(relays)
    errors: list[BaseException] = []
    start = threading.Barrier(len(relays))

    def loop(n: int) -> None:
        try:
            start.wait()
            while time.monotonic() < deadline:
                delivered[n] += relays[n].run_once().delivered
                if _settled(engine):
                    return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(len(relays))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return delivered


def test_two_relays_in_threads_deliver_each_message_once(
    engine: Engine, db_url: str, market: Marketplace
) -> None:
    """Two relays (each with its own engine) drain 600 messages at once: every message
    reaches the receiver exactly once (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: one
    writer)."""
    _endpoint(engine, market)
    _messages(engine, 600)
    clock = ManualClock(NOW)
    engines = [make_engine(db_url), make_engine(db_url)]
    relays = [_relay(e, clock, batch=50, workers=8) for e in engines]
    try:
        delivered = _run_together(relays, engine, time.monotonic() + 60)
    finally:
        for relay, own in zip(relays, engines, strict=True):
            relay.close()
            own.dispose()
    counts = _counts(f"two relays in threads ({engine.dialect.name})", engine, market)
    print(f"  per relay: delivered={delivered}")
    assert (counts.sent, counts.redelivered, counts.most, counts.attempts) == (600, 0, 1, 600)
    assert sum(delivered) == 600
    if engine.dialect.name == "postgresql":
        assert min(delivered) > 0  # both really took part


_CHILD = """
import sys, time
from paywindow.clock import SystemClock
from paywindow.notify.relay import Relay, RelayConfig
from paywindow.store import make_engine
from tests.notify.test_faults import _settled

engine = make_engine(sys.argv[1])
relay = Relay(engine, SystemClock(), config=RelayConfig(batch=50, workers=8, timeout=2.0))
print("ready", flush=True)
sys.stdin.readline()
delivered, deadline = 0, time.monotonic() + 60
while time.monotonic() < deadline:
    delivered += relay.run_once().delivered
    if _settled(engine):
        break
relay.close()
print(delivered, flush=True)
"""


def test_two_relay_processes_deliver_each_message_once(
    engine: Engine, db_url: str, market: Marketplace
) -> None:
    """Two relay processes on PostgreSQL drain 1,000 messages at once: each message reaches
    the receiver exactly once."""
    if engine.dialect.name != "postgresql":
        pytest.skip("two relay processes need PostgreSQL (SQLite is single-writer)")
    _endpoint(engine, market)
    _messages(engine, 1000, at=SystemClock().now())
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, db_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        for child in children:  # both start at once
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        delivered = [int(child.communicate(timeout=90)[0].strip()) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    counts = _counts("two relay processes (postgresql)", engine, market)
    print(f"  per process: delivered={delivered}")
    assert (counts.sent, counts.redelivered, counts.most, counts.attempts) == (1000, 0, 1, 1000)
    assert sum(delivered) == 1000 and min(delivered) > 0


def test_a_relay_slower_than_its_lease_is_not_joined_by_a_second(
    engine: Engine, market: Marketplace
) -> None:
    """A slow endpoint (each answer 0.3 s, inside the timeout) and a batch of four with one
    worker: the batch outlives a 0.5 s lease. A second relay then claims the deliveries the
    first has not reached yet; the first must not send them as well.

    (Scaled down from the defaults: batch 200, 16 workers, 15 s timeout, 60 s lease: an
    endpoint answering in 5 s makes a batch last 13 x 5 s = 65 s.)"""
    _endpoint(engine, market)
    _messages(engine, 4, at=SystemClock().now())
    market.fail(Fault(delay=0.3))
    clock = SystemClock()
    lease, timeout = timedelta(seconds=0.5), 0.35  # a post may start only 0.15 s into a claim
    first = _relay(engine, clock, batch=4, workers=1, lease=lease, timeout=timeout)
    second = _relay(engine, clock, batch=4, workers=4, lease=lease, timeout=timeout)
    try:
        running = threading.Thread(target=first.run_once)
        running.start()
        time.sleep(0.65)  # the first relay is on its third delivery; its leases ran out
        second.run_once()
        running.join()
        second.run_once()  # what the first gave back after the second's first pass, if any
    finally:
        first.close()
        second.close()
    print(f"\nslow batch, two relays: deliveries={dict(market.deliveries)}")
    assert market.redelivered() == 0, "delivered twice by two live relays"
    assert len(market.received) == 4


# -- the endpoint is removed ---------------------------------------------------------------


def test_a_message_for_a_disabled_endpoint_waits_until_it_is_enabled(engine: Engine) -> None:
    """Deliveries to a disabled endpoint stay pending and nothing is sent to it; other
    endpoints get theirs; enabling it delivers what waited."""
    with running_marketplace() as kept, running_marketplace() as removed:
        _endpoint(engine, kept)
        gone = _endpoint(engine, removed)
        _messages(engine, 10)
        clock = ManualClock(NOW)
        with _relay(engine, clock) as relay:
            notify.sequence(engine)
            assert relay.fan_out() == 20
            notify.disable_endpoint(engine, gone.id, NOW, "removed by the marketplace")
            report = relay.run_once()
            assert report.delivered == 10
            clock.advance(timedelta(days=1).total_seconds())
            relay.run_once()
            assert (len(kept.received), removed.requests) == (10, 0)
            assert _statuses(engine) == Counter({"delivered": 10, "pending": 10})
            notify.enable_endpoint(engine, gone.id)
            assert relay.run_once().delivered == 10
        counts = _counts("disabled endpoint", engine, kept, removed)
    assert (counts.sent, counts.redelivered, counts.attempts) == (20, 0, 20)
    assert (len(kept.received), len(removed.received)) == (10, 10)


def test_a_message_written_while_the_endpoint_is_disabled_arrives_when_enabled(
    engine: Engine, market: Marketplace
) -> None:
    endpoint = _endpoint(engine, market)
    clock = ManualClock(NOW)
    with _relay(engine, clock) as relay:
        _messages(engine, 3, "before")
        notify.sequence(engine)
        assert relay.fan_out() == 3  # queued before the endpoint is disabled: these wait
        notify.disable_endpoint(engine, endpoint.id, NOW, "disabled by an operator")
        _messages(engine, 3, "during")
        relay.run_once()
        assert market.requests == 0
        notify.enable_endpoint(engine, endpoint.id)
        relay.run_once()
    print(f"\nwritten while disabled: received={sorted(r.order_id or '' for r in market.received)}")
    _counts("written while disabled", engine, market)


# -- the database goes away ----------------------------------------------------------------


class _Proxy:
    """A TCP proxy in front of PostgreSQL that can go down (every connection cut, new ones
    refused) and come back on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if self._accepting is not None:
            self._accepting.join()
        if listener is not None:
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@contextmanager
def _outage(db_url: str) -> Iterator[tuple[Engine, Callable[[], None], Callable[[], None]]]:
    """An engine for the relay, and how to take its database away and give it back.

    PostgreSQL: the relay connects through :class:`_Proxy`; down cuts its connections and
    refuses new ones. SQLite: down holds an exclusive lock from another connection, longer
    than the relay's busy timeout."""
    url = make_url(db_url)
    if url.get_backend_name() == "postgresql":
        proxy = _Proxy(url.host or "127.0.0.1", url.port or 5432)
        proxy.up()
        through = url.set(
            host="127.0.0.1", port=proxy.port, query={"application_name": "relay-under-test"}
        )
        relay_engine = make_engine(through.render_as_string(hide_password=False), busy_timeout=1)
        try:
            yield relay_engine, proxy.down, proxy.up
        finally:
            proxy.down()
            relay_engine.dispose()
        return
    import sqlite3

    holder: list[sqlite3.Connection] = []

    def down() -> None:
        lock = sqlite3.connect(str(url.database), isolation_level=None, timeout=5)
        lock.execute("BEGIN EXCLUSIVE")
        holder.append(lock)

    def up() -> None:
        while holder:
            lock = holder.pop()
            lock.execute("ROLLBACK")
            lock.close()

    relay_engine = make_engine(db_url, busy_timeout=0.2)
    try:
        yield relay_engine, down, up
    finally:
        up()
        relay_engine.dispose()


def test_database_briefly_unavailable(
    engine: Engine, db_url: str, market: Marketplace, caplog: pytest.LogCaptureFixture
) -> None:
    """The relay runs as ``serve`` runs it (a RelayThread); its database goes away for a
    second (PostgreSQL: connections cut and refused, after one round of
    ``pg_terminate_backend``; SQLite: locked by another writer) and comes back. The thread
    survives the failing passes and resumes; nothing is lost."""
    caplog.set_level(logging.ERROR, logger=RELAY_LOG)
    _endpoint(engine, market)
    clock = ManualClock(NOW)
    passes: list[notify.relay.RelayReport] = []
    postgres = engine.dialect.name == "postgresql"
    with _outage(db_url) as (relay_engine, down, up):
        config = RelayConfig(timeout=2.0, workers=4, jitter=0.0)
        thread = notify.RelayThread(
            relay_engine, clock, poll_interval=0.05, config=config, on_pass=passes.append
        )
        thread.start()
        try:
            _messages(engine, 30, "before")
            assert _wait_for(lambda: len(market.received) == 30)
            if postgres:  # the relay's connections are killed under it
                with engine.connect() as conn:
                    killed = conn.execute(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name = 'relay-under-test'"
                        )
                    ).scalar_one()
                assert killed >= 1
                _messages(engine, 30, "terminated")
                assert _wait_for(lambda: len(market.received) == 60)
            _messages(engine, 30, "outage")
            down()
            failed_before = len(caplog.records)
            time.sleep(1.0)
            failures = len(caplog.records) - failed_before
            up()
            recovered = len(passes)
            deadline = time.monotonic() + 8
            while not _settled(engine) and time.monotonic() < deadline:
                if not _wait_for(lambda: _settled(engine), 0.5):
                    clock.advance(61)  # a delivery whose settle was cut waits out its lease
            assert _wait_for(lambda: len(passes) > recovered + 2)  # still passing
        finally:
            thread.stop()
    kinds = Counter(type(r.exc_info[1]).__name__ for r in caplog.records if r.exc_info)
    counts = _counts(f"database briefly unavailable ({engine.dialect.name})", engine, market)
    print(f"  failed passes during the outage={failures}, errors={dict(kinds)}")
    assert failures >= 1, "the outage never reached the relay"
    assert counts.redelivered <= config.batch and counts.most <= 2
