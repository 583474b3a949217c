"""Expiry precision: 1,000 orders whose deadlines are spread over three minutes, closed by the
real ``expire_windows`` Prefect flow, started every minute as its deployment is.

Each order gets a short window so its deadline lands inside the run; the flow runs are started
at the schedule's rhythm (every 60 s, horizon 75 s, overlapping) under a Prefect test server.
Measured: |window_closed_at - deadline| for every order. The baseline, from the same deadlines,
is what a plain once-a-minute sweep would give (closing at the next sweep).
Run: ``uv run python -m bench.expiry.run [--orders 1000] [--spread 180]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from bench.docs import machine_line, percentile, update_section
from paywindow.clock import SystemClock
from paywindow.inbox.backstop import record_session
from paywindow.payments.checkout import CheckoutPolicy
from paywindow.payments.orders import LineItem, OrderRequest, open_order
from paywindow.sandbox import running_sandbox
from paywindow.store import make_engine, upgrade
from paywindow.store.tables import orders

ROOT = Path(__file__).resolve().parents[2]
TARGET_MAX = 1.0


def _open(engine: object, client: object, seller: str, n: int, window: float) -> None:
    request = OrderRequest(
        order_id=f"ord_x{n:05d}",
        buyer_id=f"u{n}",
        seller_account=seller,
        currency="usd",
        application_fee_amount=100,
        lines=(LineItem("Poster", 1500, 1),),
    )
    policy = CheckoutPolicy(
        timedelta(seconds=window), timedelta(minutes=5), "https://x", "https://y", record_session
    )
    open_order(engine, client, request, policy, SystemClock().now())  # type: ignore[arg-type]


def run(count: int, spread: float, lead: float) -> tuple[list[float], list[float]]:
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory() as tmp, running_sandbox(frozen=False) as sandbox:
        url = f"sqlite:///{Path(tmp) / 'expiry.db'}"
        engine = make_engine(url)
        upgrade(engine)
        client = sandbox.client(max_network_retries=2)
        seller = client.v1.accounts.create(params={"type": "express"}).id
        start = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            for n in range(count):
                elapsed = time.monotonic() - start
                pool.submit(_open, engine, client, seller, n, lead - elapsed + spread * n / count)
        os.environ.update(
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            PAYWINDOW_DATABASE_URL=url,
            PAYWINDOW_STRIPE_API_KEY=sandbox.api_key,
            PAYWINDOW_STRIPE_API_BASE=sandbox.base_url,
        )
        sys.path.insert(0, str(ROOT))
        from flows.expire_windows import expire_windows

        with prefect_test_harness(server_startup_timeout=90):
            runs = math.ceil((lead + spread) / 60) + 1
            threads = []
            for index in range(runs):
                thread = threading.Thread(target=expire_windows, kwargs={"horizon": 75.0})
                thread.start()
                threads.append(thread)
                if index < runs - 1:
                    time.sleep(60)
            for thread in threads:
                thread.join()
        with engine.connect() as conn:
            rows = conn.execute(select(orders.c.deadline, orders.c.window_closed_at)).all()
        engine.dispose()
    missing = [r for r in rows if r.window_closed_at is None]
    assert not missing, f"{len(missing)} windows never closed"
    deltas = [abs((r.window_closed_at - r.deadline).total_seconds()) for r in rows]
    first = min(r.deadline for r in rows)
    sweeps = [_next_sweep(r.deadline, first) for r in rows]
    baseline = [(s - r.deadline).total_seconds() for s, r in zip(sweeps, rows, strict=True)]
    return deltas, baseline


def _next_sweep(deadline: datetime, first: datetime) -> datetime:
    """When a sweep every 60 s (the first one at the first deadline) would close ``deadline``."""
    periods = math.ceil((deadline - first).total_seconds() / 60)
    return first + timedelta(seconds=60 * periods)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.expiry.run")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=180.0, help="seconds the deadlines span")
    parser.add_argument("--lead", type=float, default=45.0, help="seconds before the first one")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    deltas, baseline = run(args.orders, args.spread, args.lead)
    p50, p99, worst = percentile(deltas, 0.5), percentile(deltas, 0.99), max(deltas)
    late = sum(1 for d in deltas if d > TARGET_MAX)
    verdict = "met" if worst <= TARGET_MAX else "MISSED"
    lines = [
        f"- orders: {len(deltas)}, deadlines over {args.spread:g} s",
        f"- |closed - deadline|: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {worst * 1000:.1f} ms; over 1 s: {late} (target max <= 1 s: {verdict})",
        f"- baseline, a once-a-minute sweep on the same deadlines: p50 "
        f"{percentile(baseline, 0.5):.1f} s, max {max(baseline):.1f} s "
        f"(the timer is {max(baseline) / max(worst, 1e-3):,.0f}x tighter at the worst case)",
    ]
    Console().print("\n".join(lines))
    if not args.no_docs:
        update_section(
            "Expiry precision",
            f"""Orders with deadlines spread over {args.spread:g} s, closed by the real
`expire_windows` flow (Prefect test server; a run started every 60 s with a 75 s horizon, as the
`expire-windows` deployment), with Stripe sessions expired through the sandbox.

- {machine_line()}
- Command: `uv run python -m bench.expiry.run --orders {args.orders} --spread {args.spread:g}`

{chr(10).join(lines)}
""",
        )


if __name__ == "__main__":
    main()
