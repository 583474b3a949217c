"""Sandbox benchmark: Stripe API requests per second for retrieve and create, over HTTP.

``uv run python -m bench.sandbox.run [--seconds N] [--connections N] [--no-docs]``.

The sandbox runs in its own process (``python -m paywindow.sandbox``), as in the demo. The
load generator is a raw asyncio client (uvloop) over many keep-alive connections, so the client
is not the bottleneck: the same client is first pointed at a bare endpoint (a uvloop server
answering a fixed response) and its ceiling is reported next to each case as a ratio. The real
stripe SDK (one thread, sequential) is measured too, for scale. Figures go to the
``## Sandbox`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import stripe
import uvloop

from paywindow.sandbox import free_port

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "benchmarks.md"
SECTION = "## Sandbox"
API_KEY = "sk_test_bench" + "0" * 16
SESSION_BODY = (
    "mode=payment&line_items[0][price_data][currency]=usd"
    "&line_items[0][price_data][unit_amount]=1500"
    "&line_items[0][price_data][product_data][name]=Lamp&line_items[0][quantity]=1"
    "&metadata[order_id]=ord_{n}&client_reference_id=ord_{n}"
    "&payment_intent_data[metadata][order_id]=ord_{n}"
)


@dataclass
class Case:
    """One measured case."""

    name: str
    requests: int
    seconds: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@contextmanager
def _process(args: list[str], port: int) -> Iterator[None]:
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {args}") from None
                time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def _request(method: str, path: str, body: str = "", key: str | None = None) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {API_KEY}",
        "Stripe-Version: 2026-10-28.endive",
    ]
    if method == "POST":
        lines.append("Content-Type: application/x-www-form-urlencoded")
        lines.append(f"Content-Length: {len(body.encode())}")
    if key:
        lines.append(f"Idempotency-Key: {key}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


async def _worker(
    port: int, make: Callable[[int], bytes], start: int, step: int, deadline: float
) -> tuple[int, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = errors = 0
    n = start
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        writer.write(make(n))
        head = await reader.readuntil(b"\r\n\r\n")
        match = re.search(rb"content-length: *(\d+)", head, re.I)
        await reader.readexactly(int(match.group(1)) if match else 0)
        if not head.startswith(b"HTTP/1.1 200"):
            errors += 1
        done += 1
        n += step
    writer.close()
    await writer.wait_closed()
    return done, errors


async def _load(port: int, make: Callable[[int], bytes], seconds: float, conns: int) -> Case:
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + seconds
    results = await asyncio.gather(*(_worker(port, make, i, conns, deadline) for i in range(conns)))
    elapsed = loop.time() - started
    return Case("", sum(r[0] for r in results), elapsed, sum(r[1] for r in results))


def _measure(
    name: str, port: int, make: Callable[[int], bytes], seconds: float, conns: int
) -> Case:
    case = uvloop.run(_load(port, make, seconds, conns))
    case.name = name
    print(f"{name:<44} {case.rate:>9,.0f} req/s  ({case.requests} requests, {case.errors} errors)")
    return case


def _sdk_case(port: int, session_id: str, seconds: float) -> Case:
    base = f"http://127.0.0.1:{port}"
    client = stripe.StripeClient(API_KEY, base_addresses={"api": base}, max_network_retries=0)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        client.v1.checkout.sessions.retrieve(session_id)
        count += 1
    case = Case(
        "stripe SDK retrieve (1 thread, sequential)", count, time.perf_counter() - started, 0
    )
    print(f"{case.name:<44} {case.rate:>9,.0f} req/s")
    return case


def _create_session(port: int) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/checkout/sessions",
        data=SESSION_BODY.format(n=0).encode(),
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    with urllib.request.urlopen(request) as response:
        session_id: str = json.loads(response.read())["id"]
        return session_id


def run_cases(seconds: float, conns: int) -> list[Case]:
    """Bare ceiling, then retrieve and create against a fresh sandbox process."""
    cases = []
    bare_port = free_port()
    bare = [sys.executable, "-m", "bench.sandbox.bare", str(bare_port)]
    with _process(bare, bare_port):
        get = _request("GET", "/v1/checkout/sessions/cs_x")
        cases.append(
            _measure("client ceiling (bare endpoint)", bare_port, lambda n: get, seconds, conns)
        )
    port = free_port()
    server = [
        sys.executable,
        "-m",
        "paywindow.sandbox",
        "--port",
        str(port),
        "--no-payouts",
        "--api-key",
        API_KEY,
    ]
    with _process(server, port):
        session_id = _create_session(port)
        get = _request("GET", f"/v1/checkout/sessions/{session_id}")
        cases.append(_measure("retrieve checkout session", port, lambda n: get, seconds, conns))

        def create(n: int) -> bytes:
            body = SESSION_BODY.format(n=n)
            return _request("POST", "/v1/checkout/sessions", body, key=f"bench-{n}")

        cases.append(
            _measure("create checkout session (Idempotency-Key)", port, create, seconds, conns)
        )
        cases.append(_sdk_case(port, session_id, seconds))
    return cases


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def render(cases: list[Case], seconds: float, conns: int) -> str:
    """The ``## Sandbox`` section."""
    ceiling = cases[0].rate
    rows = "\n".join(
        f"| {c.name} | {c.rate:,.0f} | {c.requests:,} | {c.errors} | {c.rate / ceiling:.0%} |"
        for c in cases
    )
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{SECTION}\n\n"
        "Stripe API requests per second served by the offline sandbox "
        "(`python -m paywindow.sandbox`, one process, uvicorn + httptools + uvloop), "
        f"{conns} keep-alive connections from a raw asyncio client in a second process, "
        f"{seconds:g} s per case.\n\n"
        f"* machine: {os.cpu_count()} CPUs (`nproc`), {_cpu_model()}, Python "
        f"{platform.python_version()}\n"
        "* command: `uv run python -m bench.sandbox.run`\n"
        f"* date: {today}\n\n"
        "| case | req/s | requests | errors | share of client ceiling |\n"
        "|---|---:|---:|---:|---:|\n"
        f"{rows}\n\n"
        "The client ceiling row is the same client against a bare uvloop endpoint answering a "
        "fixed response: each sandbox row's share of it shows the client is not what limits "
        "the figure. Requirement: at least 1,000 req/s for retrieve and create.\n"
    )


def update_docs(section: str) -> None:
    """Replace the ``## Sandbox`` section of docs/benchmarks.md, keeping every other section."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and record it."""
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox.run")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    cases = run_cases(args.seconds, args.connections)
    if not args.no_docs:
        update_docs(render(cases, args.seconds, args.connections))
        print(f"updated {DOCS.relative_to(REPO)} ({SECTION})")


if __name__ == "__main__":
    main()
