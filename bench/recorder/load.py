"""A lean load generator: asyncio (uvloop) protocols over raw keep-alive HTTP/1.1 sockets.

Each of ``connections`` sockets sends one prebuilt request, waits for the whole response, and
sends the next (no pipelining), like Stripe's deliverers. Responses completed inside the
measured window count towards throughput and latency; a warm-up before it is discarded. Every
event id answered 2xx is kept, so the crash test can look for it in the log afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import cast

from bench.recorder.events import Delivery

__all__ = ["LoadResult", "run_load"]

_NS = 1_000_000_000


@dataclass
class LoadResult:
    """What one load run saw; ``latencies_ns`` and ``measured`` cover the measured window only."""

    duration: float = 0.0
    measured: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    connection_errors: int = 0
    acked: list[str] = field(default_factory=list)
    in_flight: set[str] = field(default_factory=set)
    client_cpu: float = 0.0
    wall: float = 0.0
    sent: int = 0

    @property
    def rate(self) -> float:
        return self.measured / self.duration if self.duration else 0.0

    def percentile_ms(self, fraction: float) -> float:
        """Nearest-rank percentile of the measured latencies, in milliseconds."""
        if not self.latencies_ns:
            return float("nan")
        ordered = sorted(self.latencies_ns)
        rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
        return ordered[rank] / 1e6


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request outstanding."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._closed: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = exc or ConnectionResetError("server closed the connection")
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(self._closed)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._buffer[:end]).lower()
        start = head.find(b"\r\ncontent-length:")
        if start < 0:
            self._fail(ValueError("response without Content-Length"))
            return
        stop = head.find(b"\r\n", start + 2)
        length = int(head[start + 17 : stop if stop > 0 else None])
        total = end + 4 + length
        if len(self._buffer) < total:
            return
        status = int(head[9:12])
        body = bytes(self._buffer[end + 4 : total])
        del self._buffer[:total]
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result((status, body))

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        if self._transport is not None:
            self._transport.close()

    async def send(self, request: bytes) -> tuple[int, bytes]:
        if self._closed is not None:
            raise self._closed
        assert self._transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class _Run:
    def __init__(self, deliveries: Iterator[Delivery], result: LoadResult) -> None:
        self.deliveries = deliveries
        self.result = result
        self.measure_from = 0
        self.measure_until = 0
        self.stopping = False

    async def worker(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        result = self.result
        clock = time.perf_counter_ns
        try:
            _, conn = await loop.create_connection(_Connection, host, port)
        except OSError:
            result.connection_errors += 1
            return
        try:
            while not self.stopping:
                delivery = next(self.deliveries)
                started = clock()
                result.sent += 1
                result.in_flight.add(delivery.event_id)
                try:
                    status, body = await conn.send(delivery.request)
                except (OSError, ValueError):
                    result.connection_errors += 1
                    return
                result.in_flight.discard(delivery.event_id)
                finished = clock()
                self._count(delivery.event_id, status, body, started, finished)
        finally:
            conn.close()

    def _count(self, event_id: str, status: int, body: bytes, started: int, done: int) -> None:
        result = self.result
        result.statuses[status] += 1
        if 200 <= status < 300:
            result.acked.append(event_id)
            if b'"recorded"' in body:
                result.outcomes["recorded"] += 1
            elif b'"duplicate"' in body:
                result.outcomes["duplicate"] += 1
        if self.measure_from <= done <= self.measure_until:
            result.measured += 1
            result.latencies_ns.append(done - started)


async def run_load(
    host: str,
    port: int,
    deliveries: Iterator[Delivery],
    *,
    connections: int,
    seconds: float,
    warmup: float = 1.0,
    kill_after: float | None = None,
    kill: Callable[[], None] | None = None,
) -> LoadResult:
    """Send deliveries on ``connections`` sockets: ``warmup`` s discarded, then ``seconds`` s.

    With ``kill``, it is called ``kill_after`` seconds into the run (the crash test kills the
    server there); the run then ends when every connection has failed or the time is up.
    """
    result = LoadResult()
    run = _Run(deliveries, result)
    cpu0 = time.process_time()
    start = time.perf_counter_ns()
    run.measure_from = start + int(warmup * _NS)
    run.measure_until = run.measure_from + int(seconds * _NS)
    workers = [asyncio.create_task(run.worker(host, port)) for _ in range(connections)]
    if kill is not None:
        asyncio.get_running_loop().call_later(kill_after or 0.0, kill)
    deadline = (run.measure_until - time.perf_counter_ns()) / _NS
    _, pending = await asyncio.wait(workers, timeout=max(0.0, deadline))
    run.stopping = True
    if pending:
        await asyncio.wait(pending, timeout=30)
    result.duration = seconds
    result.wall = (time.perf_counter_ns() - start) / _NS
    result.client_cpu = time.process_time() - cpu0
    return result
