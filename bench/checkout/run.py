"""Checkout creation through the order API: end-to-end latency with Stripe's latency
simulated (the sandbox adds 300 ms to every API answer), and paywindow's own overhead.

Cases, measured in one run on one machine:
- ``api, stripe +300 ms``: POST /v1/orders over HTTP (recorder app, SQLite, WAL) to a session;
- ``api, stripe +0 ms``: the same with no added latency;
- ``sdk only, +0 ms``: the same Checkout Session created directly with the stripe SDK — the
  baseline; paywindow's overhead is the api case minus this one.
Run: ``uv run python -m bench.checkout.run [--orders N]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from tests.web.conftest import serve_in_thread

from bench.docs import machine_line, percentile, update_section
from paywindow.clock import SystemClock
from paywindow.gateway.checkout import CheckoutLine, CheckoutRequest, create_session
from paywindow.inbox.backstop import record_session
from paywindow.payments.checkout import CheckoutPolicy
from paywindow.sandbox import running_sandbox
from paywindow.store import make_engine, upgrade
from paywindow.web.app import RecorderConfig, create_app
from paywindow.web.orders import OrdersService

TOKEN = "bench-token"
TARGET_P99_E2E = 2.0
TARGET_P99_OVERHEAD = 0.050


def _timed(calls: list[Callable[[], Any]], workers: int) -> list[float]:
    def one(call: Callable[[], Any]) -> float:
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, calls))


def _body(order_id: str, seller: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "buyer": {"id": "u_1", "email": "b@example.com"},
        "seller_account": seller,
        "currency": "usd",
        "application_fee_amount": 300,
        "line_items": [{"name": "Signed vinyl", "unit_amount": 2500, "quantity": 1}],
    }


def run(orders: int, workers: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp, running_sandbox(frozen=False) as sandbox:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        client = sandbox.client(max_network_retries=2)
        seller = client.v1.accounts.create(params={"type": "express"}).id
        policy = CheckoutPolicy(
            timedelta(hours=24),
            timedelta(minutes=5),
            "https://x/ok",
            "https://x/no",
            record_session,
        )
        service = OrdersService(engine, client, policy, SystemClock(), TOKEN)
        config = RecorderConfig(
            engine=engine, clock=SystemClock(), secrets=["whsec_b"], orders=service
        )
        for url in serve_in_thread(create_app(config)):
            http = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
            )

            def api(order_id: str, http: httpx.Client = http) -> Callable[[], Any]:
                def call() -> None:
                    response = http.post("/v1/orders", json=_body(order_id, seller))
                    assert response.status_code == 201, response.text

                return call

            def sdk(n: int) -> Callable[[], Any]:
                request = CheckoutRequest(
                    order_id=f"sdk_{n}",
                    attempt=1,
                    currency="usd",
                    lines=(CheckoutLine("Signed vinyl", 2500, 1),),
                    application_fee_amount=300,
                    seller_account=seller,
                    expires_at=SystemClock().now() + timedelta(hours=23),
                    success_url="https://x/ok",
                    cancel_url="https://x/no",
                )
                return lambda: create_session(client, request)

            _timed([api(f"warm_{n}") for n in range(20)], workers)
            results["sdk only, stripe +0 ms"] = _timed([sdk(n) for n in range(orders)], 1)
            results["api, stripe +0 ms"] = _timed([api(f"o0_{n}") for n in range(orders)], 1)
            results[f"api, stripe +0 ms, {workers} callers"] = _timed(
                [api(f"c0_{n}") for n in range(orders)], workers
            )
            sandbox.faults(latency_ms=300)
            slow = max(50, orders // 4)
            results[f"api, stripe +300 ms, {workers} callers"] = _timed(
                [api(f"o3_{n}") for n in range(slow)], workers
            )
            sandbox.faults()
            http.close()
        engine.dispose()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.checkout.run")
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4, help="concurrent callers")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.orders, args.workers)
    table = Table("case", "requests", "p50 ms", "p99 ms", "max ms", title="checkout creation")
    stats: dict[str, tuple[float, float]] = {}
    for name, values in results.items():
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        stats[name] = (p50, p99)
        table.add_row(
            name,
            str(len(values)),
            f"{p50 * 1000:.1f}",
            f"{p99 * 1000:.1f}",
            f"{max(values) * 1000:.1f}",
        )
    Console().print(table)
    e2e = stats[f"api, stripe +300 ms, {args.workers} callers"][1]
    overhead = stats["api, stripe +0 ms"][1] - stats["sdk only, stripe +0 ms"][1]
    own = stats["api, stripe +0 ms"][1]
    verdicts = [
        f"- end to end with Stripe +300 ms, {args.workers} concurrent callers: "
        f"p99 {e2e * 1000:.0f} ms (target < {TARGET_P99_E2E * 1000:.0f} ms: "
        f"{'met' if e2e < TARGET_P99_E2E else 'MISSED'})",
        f"- paywindow's own overhead, one caller (api minus sdk-only, at p99): "
        f"{overhead * 1000:.1f} ms; api p99 at +0 ms {own * 1000:.1f} ms "
        f"(target <= {TARGET_P99_OVERHEAD * 1000:.0f} ms: "
        f"{'met' if own <= TARGET_P99_OVERHEAD else 'MISSED'})",
    ]
    Console().print("\n".join(verdicts))
    if args.no_docs:
        return
    rows = "\n".join(
        f"| {name} | {len(results[name])} | {p50 * 1000:.1f} | {p99 * 1000:.1f} |"
        for name, (p50, p99) in stats.items()
    )
    update_section(
        "Checkout",
        f"""POST /v1/orders end to end over HTTP (serve app in-process, SQLite WAL): with the
sandbox adding 300 ms to every Stripe answer ({args.workers} concurrent callers); then with no
added latency, one caller (paywindow's own cost per request) and {args.workers} callers
(contention), against the same session created directly with the stripe SDK (the baseline) in
the same run.
Sandbox, server and client share one process and the machine's 2 cores, so the figures are an
upper bound.

- {machine_line()}
- Command: `uv run python -m bench.checkout.run --orders {args.orders} --workers {args.workers}`

| case | requests | p50 ms | p99 ms |
|---|---:|---:|---:|
{rows}

{chr(10).join(verdicts)}
""",
    )


if __name__ == "__main__":
    main()
