"""``paywindow demo``: a marketplace day on embedded defaults, end to end, in a few minutes.

A frozen sandbox clock is advanced in steps; at each step the demo does what the deployments
do, through the same code: webhooks (duplicated and reordered by the sandbox's chaos switches)
reach the real recorder and are applied by the processor; ``schedule-retries`` executes due
retry attempts; the ``expire-windows`` timer closes each payment window at its deadline (the
clock jumps exactly to each deadline), tells Stripe and refunds late payments; the receipt
renderer stores PDFs in moto's S3 (Object Lock, KMS). The sandbox's buyer population decides who
pays, when and with which decline. A few buyers pay too late, a few payments are refunded and
one is disputed; the sandbox books fees, transfers and daily payouts. At the end the ledger is
synced and reconciled, and the report (HTML, PDF, CSV) is written to ./out/.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import stripe
import uvicorn
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Engine, func, select

from paywindow.clock import ManualClock
from paywindow.gateway.checkout import expire_session
from paywindow.inbox.backstop import backstop, record_session
from paywindow.inbox.processor import process_due
from paywindow.paths import reports_dir, sql_dir
from paywindow.payments.checkout import (
    CheckoutPolicy,
    LineItem,
    OrderRequest,
    ensure_checkout,
    open_order,
)
from paywindow.payments.expiry import (
    DeadlineTimer,
    close_overdue,
    expire_stripe_sessions,
    refund_late_payments,
)
from paywindow.retries.attempt import RetryPolicy, run_retries
from paywindow.store import make_engine, upgrade
from paywindow.store.tables import orders, retry_plans
from paywindow.stripe_ids import new_id
from paywindow.web.app import RecorderConfig, create_app

__all__ = ["DemoResult", "run_demo"]

START = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
WINDOW = timedelta(hours=24)
ITEMS = [
    ("Signed vinyl", 2500),
    ("Vintage poster", 4200),
    ("Zine bundle", 1500),
    ("Concert tee", 3000),
    ("Test pressing", 9900),
    ("Tour photo print", 18000),
]


@dataclass
class DemoResult:
    states: dict[str, int]
    recovered: int
    failed_orders: int
    lateness: list[float]
    receipt_latency: list[float]
    findings: dict[str, int]
    report: Path | None
    seconds: float
    events: dict[str, int] = field(default_factory=dict)
    payouts: tuple[int, int] = (0, 0)


@dataclass
class _Day:
    engine: Engine
    sandbox: Any
    client: stripe.StripeClient
    clock: ManualClock
    seller: str
    checkout: CheckoutPolicy
    receipts: Any
    rng: random.Random
    lateness: list[float] = field(default_factory=list)
    receipt_latency: list[float] = field(default_factory=list)
    seen_paid: set[str] = field(default_factory=set)
    late_buyers: list[str] = field(default_factory=list)


def run_demo(
    console: Console,
    *,
    orders_count: int = 500,
    seed: int = 7,
    root: Path | None = None,
    out: Path | None = None,
    keep: bool = False,
    step: timedelta = timedelta(minutes=10),
) -> DemoResult:
    """Run the day and print the summary; state lives under ``root`` (./var/demo)."""
    from paywindow.sandbox import running_sandbox
    from paywindow.sandbox.s3 import running_s3

    started = time.perf_counter()
    root = (root or Path("var") / "demo").resolve()
    out = (out or Path("out")).resolve()
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{root}/paywindow.db")
    upgrade(engine)
    secret = "whsec_" + new_id("demo", 32)
    clock = ManualClock(START)
    with (
        running_s3() as s3,
        running_sandbox(start=START, frozen=True) as sandbox,
        _recorder(engine, clock, secret) as url,
    ):
        sandbox.register_webhook(f"{url}/webhooks/stripe", secret)
        sandbox.chaos(duplicate=0.1, reorder=20, seed=seed)
        sandbox.buyers(enabled=True, seed=seed)
        client = sandbox.client(max_network_retries=2)
        seller = client.v1.accounts.create(params={"type": "express"}).id
        checkout = CheckoutPolicy(
            WINDOW,
            timedelta(minutes=5),
            "https://m.example/ok",
            "https://m.example/cancel",
            record_session,
        )
        day = _Day(
            engine,
            sandbox,
            client,
            clock,
            seller,
            checkout,
            _receipts(engine, s3),
            random.Random(seed),
        )
        _simulate(day, orders_count, step, console)
        findings, report = _reconcile(day, root / "data", out, console)
        paid_out = [p for p in client.v1.payouts.list(params={"limit": 100}).auto_paging_iter()]
    result = _result(engine, day, findings, report, time.perf_counter() - started)
    result.payouts = (len(paid_out), sum(int(p.amount) for p in paid_out))
    engine.dispose()
    _print(console, result, orders_count)
    return result


class _recorder:
    """The recorder (with the order API's engine) on a free loopback port, in a thread."""

    def __init__(self, engine: Engine, clock: ManualClock, secret: str) -> None:
        config = RecorderConfig(engine=engine, clock=clock, secrets=[secret], run_processor=False)
        self._server = uvicorn.Server(
            uvicorn.Config(create_app(config), host="127.0.0.1", port=0, log_level="error")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        return f"http://127.0.0.1:{self._server.servers[0].sockets[0].getsockname()[1]}"

    def __exit__(self, *_exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def _receipts(engine: Engine, s3: Any) -> Any:
    from paywindow.receipts.content import Platform
    from paywindow.receipts.pool import inline
    from paywindow.receipts.render import Renderer
    from paywindow.receipts.service import ReceiptService
    from paywindow.receipts.signing import S3UrlSigner

    store = s3.store()
    service = ReceiptService(
        engine,
        store,
        S3UrlSigner(store),
        Platform("paywindow demo marketplace", "paywindow Demo Ltd. · 1 Example Street · London"),
    )
    return service, inline(Renderer(reports_dir()))


def _simulate(day: _Day, count: int, step: timedelta, console: Console) -> None:
    opening = timedelta(hours=12)  # orders open through the day...
    end = START + opening + WINDOW + timedelta(hours=1)  # ...and their windows run out
    per_step = max(1, round(count * step / opening))
    created = 0
    total_steps = int((end - START) / step)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("a marketplace day", total=total_steps)
        while day.clock.now() < end:
            batch = min(per_step, count - created)
            for _ in range(batch):
                _open(day, created)
                created += 1
            _tick(day, step)
            progress.advance(task)
    _settle(day)


def _open(day: _Day, n: int) -> None:
    name, price = ITEMS[n % len(ITEMS)]
    quantity = 1 + (n % 7 == 0)
    request = OrderRequest(
        order_id=f"ord_{n:05d}",
        buyer_id=f"u_{n}",
        buyer_email=f"buyer{n}@example.com",
        seller_account=day.seller,
        seller_name="Vinyl & Co.",
        currency="usd",
        application_fee_amount=price * quantity // 10,
        lines=(LineItem(name, price, quantity),),
        locale="en-US",
    )
    open_order(day.engine, day.client, request, day.checkout, day.clock.now())


def _advance(day: _Day, seconds: float) -> None:
    if seconds > 0:
        day.sandbox.advance(seconds)
        day.clock.advance(seconds)


def _tick(day: _Day, step: timedelta) -> None:
    """One step of the day: the timer closes windows on time while the clock moves."""
    closed: list[str] = []
    timer = DeadlineTimer(
        day.engine,
        day.clock,
        lambda s: _advance(day, s),
        on_closed=closed.append,
        max_nap=step.total_seconds(),
    )
    for _order_id, deadline, closed_at in timer.run(day.clock.now() + step):
        day.lateness.append(abs((closed_at - deadline).total_seconds()))
    for order_id in closed:
        _pays_too_late(day, order_id)
    _apply(day)
    _late_buyers(day)
    applied = time.perf_counter()
    now = day.clock.now()
    run_retries(day.engine, day.client, RetryPolicy(checkout=day.checkout), now)
    expire_stripe_sessions(day.engine, day.client, now)
    refund_late_payments(day.engine, day.client, now)
    _refunds_and_dispute(day)
    _apply(day)
    _render_receipts(day, applied)


def _apply(day: _Day) -> None:
    day.sandbox.flush_webhooks()
    while process_due(day.engine, day.clock.now()).total:
        pass


def _late_buyers(day: _Day, wanted: int = 3) -> None:
    """Three buyers who had not paid reopen checkout in the window's last 20 minutes (getting a
    session that outlives the deadline) and pay a few minutes after the deadline."""
    now = day.clock.now()
    chosen: list[str] = []
    with day.engine.connect() as conn:
        if len(day.late_buyers) < wanted:
            closing = conn.execute(
                select(orders.c.id)
                .where(orders.c.state.in_(["awaiting_payment", "payment_failed"]))
                .where(orders.c.deadline > now, orders.c.deadline < now + timedelta(minutes=20))
                .limit(wanted - len(day.late_buyers))
            ).scalars()
            chosen = list(closing)
    for order_id in chosen:
        _abandon_session(day, order_id)  # the buyer closed the tab and comes back:
        ensure_checkout(day.engine, day.client, order_id, day.checkout, now)  # a new session
        day.late_buyers.append(order_id)


def _pays_too_late(day: _Day, order_id: str) -> None:
    """A late buyer completes payment after the window closed, before Stripe hears that the
    session should end: the race the late-payment refund exists for."""
    if order_id not in day.late_buyers:
        return
    session = _open_session(day, order_id)
    if session is not None:
        _advance(day, 2)  # two seconds after the deadline
        with contextlib.suppress(Exception):  # the population may have paid it already
            day.sandbox.pay(session, "success")


def _abandon_session(day: _Day, order_id: str) -> None:
    """Expire the order's open session at Stripe and record it (its webhook may be delayed)."""
    from paywindow.payments.apply import apply_change
    from paywindow.payments.facts import AttemptStatus, Change
    from paywindow.store.tables import attempts

    with day.engine.connect() as conn:
        row = conn.execute(
            select(attempts.c.attempt, attempts.c.session_id)
            .where(attempts.c.order_id == order_id, attempts.c.status == "open")
            .order_by(attempts.c.attempt.desc())
        ).first()
    if row is None or row.session_id is None:
        return
    if expire_session(day.client, row.session_id).status != "expired":
        return  # Stripe says the buyer completed it meanwhile: nothing to abandon
    with day.engine.begin() as conn:
        change = Change(attempt=row.attempt, attempt_status=AttemptStatus.EXPIRED)
        apply_change(conn, order_id, change, now=day.clock.now(), event_id=None)


def _open_session(day: _Day, order_id: str) -> str | None:
    from paywindow.store.tables import attempts

    with day.engine.connect() as conn:
        return conn.execute(
            select(attempts.c.session_id)
            .where(attempts.c.order_id == order_id, attempts.c.status == "open")
            .order_by(attempts.c.attempt.desc())
        ).scalar()


def _refunds_and_dispute(day: _Day) -> None:
    """About 3% of paid orders are refunded (a third partially); one is disputed and lost."""
    with day.engine.connect() as conn:
        paid = conn.execute(
            select(
                orders.c.id, orders.c.payment_intent, orders.c.charge, orders.c.amount_total
            ).where(orders.c.state == "paid")
        ).all()
    for order_id, intent, charge, amount in paid:
        if order_id in day.seen_paid or intent is None:
            continue
        day.seen_paid.add(order_id)
        roll = day.rng.random()
        if roll < 0.02:
            day.client.v1.refunds.create(
                params={
                    "payment_intent": intent,
                    "reverse_transfer": True,
                    "refund_application_fee": True,
                }
            )
        elif roll < 0.03:
            day.client.v1.refunds.create(
                params={"payment_intent": intent, "amount": amount // 4, "reverse_transfer": True}
            )
        elif len(day.seen_paid) == 40 and charge:
            dispute = day.sandbox.open_dispute(charge)
            day.sandbox.close_dispute(dispute["id"], "lost")


def _render_receipts(day: _Day, since: float) -> None:
    """Render what is due; each receipt's latency is counted from when its payment was applied."""
    service, submit = day.receipts
    report = service.run_once(day.clock, submit)
    if report.stored:
        day.receipt_latency.extend([time.perf_counter() - since] * report.stored)


def _settle(day: _Day) -> None:
    """Four more days: bank debits settle (3 days), refunds land, daily payouts go out."""
    for _ in range(4 * 6):
        _advance(day, 4 * 3600)
        _apply(day)
        close_overdue(day.engine, day.clock.now())
    backstop(day.engine, day.client, day.clock.now())
    _apply(day)
    _render_receipts(day, time.perf_counter())


def _reconcile(
    day: _Day, data_dir: Path, out: Path, console: Console
) -> tuple[dict[str, int], Path | None]:
    from paywindow.reconcile.matching import Slas
    from paywindow.reconcile.report import write_reports
    from paywindow.reconcile.run import day_range, reconcile
    from paywindow.reconcile.sync import sync_ledger

    now = day.clock.now()
    with console.status("syncing Stripe's ledger and reconciling"):
        sync_ledger(day.engine, day.client, data_dir, now=now, overlap=timedelta(days=7))
        first, last = day_range(START.date(), (now - timedelta(days=1)).date())
        result = reconcile(
            day.engine,
            data_dir,
            sql_dir() / "reconcile",
            period_from=first,
            period_to=last,
            as_of=now,
            now=now,
            slas=Slas(
                webhook=timedelta(hours=6), sync=timedelta(hours=1), refund=timedelta(hours=1)
            ),
        )
        files = write_reports(result, reports_dir() / "reconcile", out)
    kinds: dict[str, int] = {}
    for finding in result.findings:
        kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
    return kinds, files.html


def _result(
    engine: Engine, day: _Day, findings: dict[str, int], report: Path | None, seconds: float
) -> DemoResult:
    with engine.connect() as conn:
        states: dict[str, int] = dict(
            conn.execute(select(orders.c.state, func.count()).group_by(orders.c.state)).all()
        )
        plans = conn.execute(select(retry_plans.c.order_id)).scalars().all()
        recovered = conn.execute(
            select(func.count())
            .select_from(orders)
            .where(
                orders.c.id.in_(plans),
                orders.c.paid_at.is_not(None),
                orders.c.paid_at <= orders.c.deadline,
            )
        ).scalar_one()
    return DemoResult(
        states,
        int(recovered),
        len(plans),
        day.lateness,
        day.receipt_latency,
        findings,
        report,
        seconds,
    )


def _print(console: Console, result: DemoResult, count: int) -> None:
    table = Table("", "", title="paywindow demo: a marketplace day")
    for state, n in sorted(result.states.items(), key=lambda kv: -kv[1]):
        table.add_row(f"orders {state}", str(n))
    table.add_row("orders with a failed payment", str(result.failed_orders))
    table.add_row(
        "  recovered by retries",
        f"{result.recovered}"
        + (f" ({result.recovered / result.failed_orders:.0%})" if result.failed_orders else ""),
    )
    worst = max(result.lateness, default=0.0)
    table.add_row(
        "windows closed by the timer", f"{len(result.lateness)}, max lateness {worst:.3f} s"
    )
    p99 = _p99(result.receipt_latency)
    table.add_row("receipts stored", f"{len(result.receipt_latency)}, p99 render+store {p99:.2f} s")
    payouts, paid_out = result.payouts
    table.add_row("payouts to the platform's bank", f"{payouts}, {paid_out / 100:,.2f} USD")
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(result.findings.items())) or "none"
    table.add_row("reconciliation findings", kinds)
    table.add_row("report", str(result.report) if result.report else "-")
    table.add_row("run time", f"{result.seconds:.0f} s for {count} orders")
    console.print(table)


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100)[98]
