"""Receipts benchmark: payment-event arrival to PDF stored in S3, for a burst of payments.

Everything real on one machine: the Stripe sandbox sends signed webhooks to the recorder
(uvicorn, with its processor thread) on SQLite; the continuous renderer (a process pool, one
worker per core) renders with WeasyPrint and stores in moto's S3 (a separate ``moto_server``
process) with Object Lock and SSE-KMS. ``--payments`` buyers pay within ``--seconds``.

Latency per order = ``receipts.stored_at`` - ``received_at`` of the first webhook that says the
order is paid. Baseline in the same run: one WeasyPrint worker's renders/s (sequential, warm),
times the cores: the ceiling the burst is compared against.

``uv run python -m bench.receipts.run [--payments 300] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import Engine, func, select

from paywindow.clock import SystemClock
from paywindow.money import Money
from paywindow.payments.repository import NewOrder, create_order
from paywindow.payments.stripe_events import ATTEMPT_KEY, ORDER_KEY
from paywindow.receipts.content import Platform
from paywindow.receipts.model import Line, PaymentMethod, ReceiptDocument
from paywindow.receipts.pool import RenderPool
from paywindow.receipts.render import Renderer
from paywindow.receipts.service import ReceiptConfig, ReceiptService
from paywindow.receipts.signing import S3UrlSigner
from paywindow.sandbox import free_port
from paywindow.sandbox.s3 import prepare_bucket
from paywindow.store import make_engine, upgrade
from paywindow.store.tables import attempts, event_log, receipts
from paywindow.web.app import RecorderConfig, create_app

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports"
DOCS = ROOT / "docs" / "benchmarks.md"
PAID_TYPES = ("payment_intent.succeeded", "charge.succeeded", "checkout.session.completed")


def single_render_rate(seconds: float = 5.0) -> float:
    """Renders per second of one warm WeasyPrint worker, sequentially."""
    renderer = Renderer(REPORTS)

    def usd(amount: int) -> Money:
        return Money(amount, "usd")

    doc = ReceiptDocument(
        kind="receipt",
        number="R-2026-000001",
        version=1,
        issued_at=datetime(2026, 11, 28, tzinfo=UTC),
        order_id="ord_bench",
        currency="usd",
        locale="en_US",
        buyer_email="b@example.com",
        buyer_id="u_1",
        seller_name="Seller",
        seller_account="acct_1",
        lines=(Line("Signed vinyl", 1, usd(2500), usd(2500), usd(0)),),
        subtotal=usd(2500),
        tax_total=usd(0),
        tax_included=False,
        total=usd(2500),
        amount=usd(2500),
        paid_at=datetime(2026, 11, 28, tzinfo=UTC),
        charge="ch_1",
        payment_method=PaymentMethod("card", "visa", "4242"),
        platform_name="paywindow",
        legal_footer="Legal footer.",
    )
    renderer.pdf(doc)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        renderer.pdf(doc)
        count += 1
    return count / (time.perf_counter() - start)


class _Recorder:
    def __init__(self, engine: Engine, secret: str) -> None:
        config = RecorderConfig(
            engine=engine, clock=SystemClock(), secrets=[secret], poll_interval=0.05
        )
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(config), host="127.0.0.1", port=0, log_level="error")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/webhooks/stripe"

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            prepare_bucket(url, bucket="probe-" + str(port))
            return proc, url
        except Exception:
            time.sleep(0.05)
    raise RuntimeError("moto_server did not start")


def _open(engine: Engine, client: Any, seller: str, n: int, now: datetime) -> list[str]:
    sessions = []
    for i in range(n):
        oid = f"ord_bench_{i:04d}"
        with engine.begin() as conn:
            create_order(
                conn,
                NewOrder(
                    id=oid,
                    currency="usd",
                    amount_total=2500,
                    application_fee_amount=250,
                    seller_account=seller,
                    buyer_id=f"u_{i}",
                    buyer_email=f"b{i}@example.com",
                    deadline=now + timedelta(hours=23),
                ),
                now,
            )
            # attempt 1 planned before its session, as checkout does
            conn.execute(
                attempts.insert().values(order_id=oid, attempt=1, status="open", created_at=now)
            )
        meta = {ORDER_KEY: oid, ATTEMPT_KEY: "1"}
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 2500,
                            "product_data": {"name": "Signed vinyl"},
                        },
                        "quantity": 1,
                    }
                ],
                "metadata": meta,
                "success_url": "https://example.com/ok",
                "payment_intent_data": {
                    "application_fee_amount": 250,
                    "transfer_data": {"destination": seller},
                    "metadata": meta,
                },
            }
        )
        sessions.append(session.id)
    return sessions


def burst(payments: int, seconds: float, workers: int) -> dict[str, Any]:
    from paywindow.sandbox import running_sandbox

    root = ROOT / "var" / "bench-receipts"
    shutil.rmtree(root, ignore_errors=True)
    engine = make_engine(f"sqlite:///{root}/paywindow.db")
    upgrade(engine)
    moto, s3_url = _moto()
    try:
        s3 = prepare_bucket(s3_url)
        store = s3.store()
        service = ReceiptService(
            engine,
            store,
            S3UrlSigner(store),
            Platform("paywindow", "Legal footer."),
            config=ReceiptConfig(poll_interval=0.05, batch_size=8),
        )
        secret = "whsec_benchreceipts"
        with (
            _Recorder(engine, secret) as hook,
            running_sandbox(frozen=False) as sb,
            RenderPool(REPORTS, workers) as pool,
        ):
            pool.warm_up()
            sb.register_webhook(hook, secret)
            client = sb.client(max_network_retries=2)
            seller = client.v1.accounts.create(params={"type": "express"}).id
            sessions = _open(engine, client, seller, payments, SystemClock().now())
            stop = threading.Event()
            renderer = threading.Thread(
                target=service.run,
                args=(SystemClock(), pool.submit),
                kwargs={"slots": pool.workers * 2, "stop": stop},
            )
            renderer.start()
            start = time.perf_counter()
            for i, sid in enumerate(sessions):
                delay = start + i * seconds / payments - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                sb.pay(sid, "success")
            paid_in = time.perf_counter() - start
            deadline = time.monotonic() + 120
            while _stored(engine) < payments and time.monotonic() < deadline:
                time.sleep(0.1)
            stop.set()
            renderer.join(30)
        return {"paid_in": paid_in, **_latencies(engine)}
    finally:
        moto.terminate()
        moto.wait(10)
        engine.dispose()


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(receipts).where(receipts.c.status == "stored")
            ).scalar_one()
        )


def _latencies(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        arrived = dict(
            conn.execute(
                select(event_log.c.order_id, func.min(event_log.c.received_at))
                .where(event_log.c.type.in_(PAID_TYPES), event_log.c.order_id.is_not(None))
                .group_by(event_log.c.order_id)
            ).all()
        )
        stored = dict(
            conn.execute(
                select(receipts.c.order_id, receipts.c.stored_at).where(
                    receipts.c.kind == "receipt", receipts.c.stored_at.is_not(None)
                )
            ).all()
        )
    lat = sorted((stored[o] - _utc(arrived[o])).total_seconds() for o in stored if o in arrived)
    times = sorted(stored.values())
    span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
    return {
        "stored": len(stored),
        "p50": _pct(lat, 50),
        "p95": _pct(lat, 95),
        "p99": _pct(lat, 99),
        "max": lat[-1] if lat else float("nan"),
        "rate": (len(times) - 1) / span if span else float("nan"),
    }


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _pct(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def write_section(text: str) -> None:
    current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    head, sep, rest = current.partition("\n## Receipts\n")
    if sep:
        nxt = rest.find("\n## ")
        tail = rest[nxt:] if nxt >= 0 else "\n"
        DOCS.write_text(head.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n" + tail)
    else:
        DOCS.write_text(current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payments", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    workers = args.workers or cores
    single = single_render_rate()
    result = burst(args.payments, args.seconds, workers)
    ceiling = single * cores
    met = result["p99"] <= 5.0
    text = f"""## Receipts

Payment-event arrival to receipt PDF stored: {args.payments} Checkout payments within {args.seconds:g} s through the Stripe sandbox, signed webhooks to the recorder (SQLite, processor thread on), the continuous renderer (`ReceiptService.run`, {workers} WeasyPrint worker processes) storing in moto's S3 (`moto_server` process) with Object Lock COMPLIANCE and SSE-KMS. Latency = `receipts.stored_at` − `received_at` of the order's first payment webhook. Everything shares the machine's {cores} cores.

* machine: {cores} CPUs, {platform.processor() or platform.machine()}, Python {platform.python_version()}
* command: `uv run python -m bench.receipts.run --payments {args.payments} --seconds {args.seconds:g}`
* date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC

| figure | value |
|---|---:|
| payments sent in | {result["paid_in"]:.1f} s |
| receipts stored | {result["stored"]} / {args.payments} |
| latency p50 | {result["p50"]:.2f} s |
| latency p95 | {result["p95"]:.2f} s |
| latency p99 | {result["p99"]:.2f} s |
| latency max | {result["max"]:.2f} s |
| sustained receipts/s (first to last stored) | {result["rate"]:.1f} |
| baseline: one warm worker, renders/s | {single:.1f} |
| single-render ceiling (× {cores} cores) | {ceiling:.1f} |
| sustained / ceiling | {result["rate"] / ceiling:.0%} |

Target p99 ≤ 5 s: {"met" if met else "MISSED"}. The ceiling is rendering alone; in the burst the same cores also run the sandbox, the recorder, its processor and moto.
"""  # noqa: E501, RUF001
    print(text)
    if not args.no_write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
