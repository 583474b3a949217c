"""Notification delivery: from the commit of a change to the marketplace's 2xx.

Cases, measured in one run on one machine, for each database (SQLite file as ``serve`` uses by
default; PostgreSQL when reachable):

- **latency**: messages written at ``--rate``/s for ``--seconds``, each in its own transaction
  (its time taken as the transaction commits), while the relay runs as ``serve`` runs it (a
  ``RelayThread`` in-process with serve's default poll interval, workers and timeout); the
  latency is the receiver's arrival time of each message minus its commit time.
- **throughput**: ``--messages`` messages queued, then the same relay started: deliveries/s
  until the last one is settled in the database (and until the last reached the receiver).
- **ceiling** (the baseline): the bare receiver's own rate for the same signed bodies from the
  same HTTP client with the same concurrency (``workers`` threads, one shared
  ``httpx.Client``), no database; the throughput's share of it is the ratio.

The receiver is :class:`paywindow.sandbox.marketplace.Marketplace` (uvicorn, signatures verified
with the Standard Webhooks library) in a process of its own (``bench/notifications/receiver.py``).
Run: ``uv run python -m bench.notifications.run [--messages N] [--rate R]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from bench.docs import machine_line, percentile, update_section
from bench.notifications.receiver import Receiver
from paywindow import notify
from paywindow.clock import SystemClock
from paywindow.notify import RelayConfig, RelayThread
from paywindow.settings import Settings
from paywindow.store import make_engine, upgrade
from paywindow.store.outbox import write_message

TARGET_P99 = 1.0
TARGET_RATE = 1_000.0
TARGET_SHARE = 0.5
_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

# what `paywindow serve` runs the relay with when nothing is configured
_DEFAULTS = Settings.model_fields
POLL_INTERVAL = float(_DEFAULTS["notify_poll_interval"].default)
SERVE_RELAY = RelayConfig(
    timeout=float(_DEFAULTS["notify_timeout"].default),
    workers=int(_DEFAULTS["notify_workers"].default),
)


@dataclass
class Result:
    backend: str
    latencies: list[float] = field(default_factory=list)
    latency_sent: int = 0
    latency_missing: int = 0
    queued: int = 0
    settled_s: float = 0.0
    received_s: float = 0.0
    relay_cpu_s: float = 0.0
    receiver_cpu_s: float = 0.0
    redelivered: int = 0

    @property
    def rate(self) -> float:
        return self.queued / self.settled_s if self.settled_s else 0.0

    @property
    def received_rate(self) -> float:
        return self.queued / self.received_s if self.received_s else 0.0


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _payload(order_id: str, n: int) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "status": "paid",
        "amount_total": 2500 + n % 100,
        "currency": "usd",
        "seller_account": "acct_1BenchSeller0000",
        "paid_at": "2026-11-28T12:00:00Z",
    }


def _write(engine: Engine, order_id: str, n: int) -> float:
    """One message in its own transaction; the wall time just after it committed."""
    with engine.begin() as conn:
        write_message(
            conn,
            topic="order.paid",
            dedupe_key=f"order.paid:{order_id}",
            payload=_payload(order_id, n),
            now=SystemClock().now(),
            order_id=order_id,
        )
    return time.time()


def _relay(engine: Engine) -> RelayThread:
    return RelayThread(engine, SystemClock(), poll_interval=POLL_INTERVAL, config=SERVE_RELAY)


def _wait(receiver: Receiver, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while receiver.count() < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def latency_case(
    engine: Engine, receiver: Receiver, result: Result, rate: float, seconds: float
) -> None:
    receiver.reset()
    total = int(rate * seconds)
    committed: dict[str, float] = {}
    relay = _relay(engine)
    relay.start()
    try:
        start = time.perf_counter()
        for n in range(total):
            pause = start + n / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            order_id = f"ord_lat_{n:06d}"
            committed[order_id] = _write(engine, order_id, n)
        _wait(receiver, total, 60)
    finally:
        relay.stop()
    arrivals = receiver.stats()["arrivals"]
    result.latency_sent = total
    result.latencies = [arrivals[o] - at for o, at in committed.items() if o in arrivals]
    result.latency_missing = total - len(result.latencies)


def throughput_case(engine: Engine, receiver: Receiver, result: Result, messages: int) -> None:
    receiver.reset()
    with engine.begin() as conn:
        for n in range(messages):
            order_id = f"ord_tp_{n:06d}"
            write_message(
                conn,
                topic="order.paid",
                dedupe_key=f"order.paid:{order_id}",
                payload=_payload(order_id, n),
                now=SystemClock().now(),
                order_id=order_id,
            )
    relay = _relay(engine)
    cpu, receiver_cpu = time.process_time(), _cpu(receiver.pid)
    started = time.time()
    relay.start()
    try:
        deadline = time.monotonic() + 300
        while notify.backlog(engine, SystemClock().now())["pending"] or receiver.count() < messages:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        result.settled_s = time.time() - started
    finally:
        relay.stop()
    result.relay_cpu_s = time.process_time() - cpu
    result.receiver_cpu_s = _cpu(receiver.pid) - receiver_cpu
    stats = receiver.stats()
    result.queued = len(stats["arrivals"])
    result.received_s = max(stats["arrivals"].values(), default=started) - started
    result.redelivered = int(stats["redelivered"])


def ceiling_case(
    receiver: Receiver, secret: str, messages: int, workers: int
) -> tuple[float, float, float]:
    """The bare receiver's rate for the same signed bodies, same client, same concurrency;
    (deliveries/s, receiver CPU s, client CPU s)."""
    receiver.reset()
    now = int(time.time())
    posts = []
    for n in range(messages):
        order_id = f"ord_ceiling_{n:06d}"
        msg = f"msg_c{n:011d}"
        view = {
            "id": msg,
            "type": "order.paid",
            "timestamp": "2026-11-28T12:00:00Z",
            "seq": n + 1,
            "order_id": order_id,
            "data": _payload(order_id, n),
        }
        body = json.dumps(view, separators=(",", ":"), sort_keys=True).encode()
        posts.append((body, notify.headers([secret], msg, now, body)))
    http = httpx.Client(
        timeout=SERVE_RELAY.timeout,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=workers * 2),
        headers={"user-agent": "paywindow-webhooks/1"},
    )

    def post(item: tuple[bytes, dict[str, str]]) -> int:
        return http.post(receiver.url, content=item[0], headers=item[1]).status_code

    receiver_cpu, client_cpu = _cpu(receiver.pid), time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        started = time.perf_counter()
        statuses = list(pool.map(post, posts))
        elapsed = time.perf_counter() - started
    http.close()
    bad = [s for s in statuses if not 200 <= s < 300]
    if bad or receiver.count() != messages:
        raise RuntimeError(f"the bare receiver failed: {len(bad)} non-2xx")
    client_cpu = time.process_time() - client_cpu
    return messages / elapsed, _cpu(receiver.pid) - receiver_cpu, client_cpu


@contextlib.contextmanager
def _database(backend: str, workdir: Path, admin_url: str) -> Iterator[Engine]:
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{workdir / 'paywindow.db'}")
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    from bench.recorder.run import _scratch_database

    with _scratch_database(admin_url) as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def run(args: argparse.Namespace) -> tuple[list[Result], tuple[float, float, float]]:
    from bench.recorder.run import _postgres_version

    backends = ["sqlite"]
    if args.backend in ("postgresql", "all"):
        if _postgres_version(args.pg_admin_url) is not None:
            backends.append("postgresql")
        elif args.backend == "postgresql":
            raise SystemExit(f"PostgreSQL is not reachable at {args.pg_admin_url}")
    if args.backend == "postgresql":
        backends.remove("sqlite")
    results = []
    ceilings: list[tuple[float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp, Receiver() as receiver:
        for backend in backends:
            result = Result(backend)
            with _database(backend, Path(tmp) / backend, args.pg_admin_url) as engine:
                endpoint = notify.add_endpoint(engine, receiver.url, SystemClock().now())
                receiver.trust(endpoint.secret)
                print(f"{backend}: latency, {args.rate:g} messages/s for {args.seconds:g} s")
                latency_case(engine, receiver, result, args.rate, args.seconds)
                print(f"{backend}: throughput, {args.messages} messages queued")
                throughput_case(engine, receiver, result, args.messages)
                print(f"{backend}: ceiling, the bare receiver")
                ceilings.append(
                    ceiling_case(receiver, endpoint.secret, args.messages, SERVE_RELAY.workers)
                )
            results.append(result)
    return results, max(ceilings)


def _lines(
    results: list[Result], best: tuple[float, float, float], messages: int, rate: float
) -> tuple[str, list[str]]:
    ceiling, receiver_cpu, client_cpu = best
    rows = []
    verdicts = []
    for r in results:
        p50, p99 = percentile(r.latencies, 0.5), percentile(r.latencies, 0.99)
        worst = max(r.latencies, default=0.0)
        missing = f" ({r.latency_missing} missing)" if r.latency_missing else ""
        rows.append(
            f"| {r.backend}: latency at {rate:g}/s | {r.latency_sent}{missing} | "
            f"{p50 * 1000:.0f} | {p99 * 1000:.0f} | {worst * 1000:.0f} | | |"
        )
        rows.append(
            f"| {r.backend}: throughput, queue of {r.queued:,} | {r.queued} | | | | "
            f"{r.rate:,.0f} | {r.rate / ceiling:.0%} |"
        )
        met_p99 = p99 <= TARGET_P99 and not r.latency_missing
        met_rate = r.rate >= TARGET_RATE or r.rate / ceiling >= TARGET_SHARE
        verdicts.append(
            f"- {r.backend}: commit to 2xx p99 {p99 * 1000:.0f} ms (target <= "
            f"{TARGET_P99 * 1000:.0f} ms: {'met' if met_p99 else 'MISSED'}); "
            f"{r.rate:,.0f} deliveries/s settled ({r.received_rate:,.0f}/s to the receiver), "
            f"{r.rate / ceiling:.2f} of the ceiling (target >= {TARGET_RATE:,.0f}/s or >= "
            f"{TARGET_SHARE} of the ceiling: {'met' if met_rate else 'MISSED'}); CPU per 1,000 "
            f"deliveries: relay process {r.relay_cpu_s / max(r.queued, 1) * 1000:.2f} s, "
            f"receiver {r.receiver_cpu_s / max(r.queued, 1) * 1000:.2f} s; redelivered "
            f"{r.redelivered}"
        )
    rows.append(
        f"| ceiling: bare receiver, same client and concurrency | {messages} | | | | "
        f"{ceiling:,.0f} | 100% |"
    )
    verdicts.append(
        f"- ceiling (the best of {len(results)} in this run): CPU per 1,000 requests: client "
        f"{client_cpu / max(messages, 1) * 1000:.2f} s, receiver "
        f"{receiver_cpu / max(messages, 1) * 1000:.2f} s"
    )
    return "\n".join(rows), verdicts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notifications.run")
    parser.add_argument("--messages", type=int, default=5_000, help="queued for throughput")
    parser.add_argument("--rate", type=float, default=100.0, help="messages/s for latency")
    parser.add_argument("--seconds", type=float, default=10.0, help="latency burst length")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--pg-admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", _PG_ADMIN))
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    loaded = (
        f"load average {os.getloadavg()[0]:.1f} at the start (other work on the machine "
        "lowers every figure; CPU per delivery moves less)"
    )
    results, best = run(args)
    ceiling = best[0]
    table_md, verdicts = _lines(results, best, args.messages, args.rate)
    table = Table("case", "p50 ms", "p99 ms", "max ms", "deliveries/s", title="notifications")
    for r in results:
        table.add_row(
            f"{r.backend} latency",
            f"{percentile(r.latencies, 0.5) * 1000:.0f}",
            f"{percentile(r.latencies, 0.99) * 1000:.0f}",
            f"{max(r.latencies, default=0.0) * 1000:.0f}",
            "",
        )
        table.add_row(f"{r.backend} throughput", "", "", "", f"{r.rate:,.0f}")
    table.add_row("ceiling", "", "", "", f"{ceiling:,.0f}")
    Console().print(table)
    Console().print("\n".join(verdicts))
    if args.no_docs:
        return
    command = "uv run python -m bench.notifications.run"
    options = f" --messages {args.messages} --rate {args.rate:g} --seconds {args.seconds:g}"
    if args.backend != "all":
        options += f" --backend {args.backend}"
    update_section(
        "Notifications",
        f"""From the commit of a change to the marketplace receiver's 2xx: the outbox delivered by
the relay as `serve` runs it (a `RelayThread` in-process, serve's defaults: poll every
{POLL_INTERVAL:g} s, {SERVE_RELAY.workers} workers, {SERVE_RELAY.timeout:g} s timeout, batches of
{SERVE_RELAY.batch}) over HTTP to the simulated marketplace (`paywindow.sandbox.marketplace`:
uvicorn, every signature verified with the Standard Webhooks library) in a process of its own.
*Latency*: {args.rate:g} messages/s for {args.seconds:g} s, each written in its own transaction
and timed at its commit, to the receiver's arrival time. *Throughput*: {args.messages:,}
messages queued, then the relay started, until the last delivery is settled in the database
(a claimed batch is settled in one commit). *Ceiling* (the baseline, same run): the
bare receiver taking the same signed bodies from the same HTTP client (one shared
`httpx.Client`) with the same concurrency ({SERVE_RELAY.workers} threads), no database.
Relay, database and receiver share the machine's 2 cores.

- {machine_line()}; {loaded}
- Command: `{command}{options}`

| case | messages | p50 ms | p99 ms | max ms | deliveries/s | share of ceiling |
|---|---:|---:|---:|---:|---:|---:|
{table_md}

{chr(10).join(verdicts)}

Reading the figures: the relay process's CPU per delivery against the bare client's CPU per
request shows what the relay adds to the HTTP post itself (signing, claiming, and settling
each delivery in its own transaction: an attempt row, the delivery row, the endpoint's
health); with the receiver in its own process, the relay's own CPU is what bounds its rate.
""",
    )


if __name__ == "__main__":
    main()
