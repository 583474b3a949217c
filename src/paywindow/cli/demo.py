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

from paywindow import jobs
from paywindow.clock import ManualClock
from paywindow.gateway.checkout import expire_session
from paywindow.payments.checkout import ensure_checkout
from paywindow.payments.orders import LineItem, OrderRequest, open_order
from paywindow.resources import Resources, open_resources
from paywindow.sandbox.s3 import TEST_CREDENTIALS
from paywindow.settings import Settings, load_settings
from paywindow.store import upgrade
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
    #: webhooks the marketplace received (verified), and retry links it told buyers about
    notifications: tuple[int, int] = (0, 0)


@dataclass
class _Day:
    res: Resources
    sandbox: Any
    clock: ManualClock
    seller: str
    rng: random.Random
    lateness: list[float] = field(default_factory=list)
    receipt_latency: list[float] = field(default_factory=list)
    seen_paid: set[str] = field(default_factory=set)
    late_buyers: list[str] = field(default_factory=list)

    @property
    def engine(self) -> Engine:
        return self.res.engine

    @property
    def client(self) -> stripe.StripeClient:
        return self.res.stripe


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
    from paywindow.notify import add_endpoint
    from paywindow.sandbox import running_sandbox
    from paywindow.sandbox.marketplace import Received, running_marketplace
    from paywindow.sandbox.s3 import running_s3

    started = time.perf_counter()
    root = (root or Path("var") / "demo").resolve()
    out = (out or Path("out")).resolve()
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    secret = "whsec_" + new_id("demo", 32)
    clock = ManualClock(START)
    told: list[str] = []
    with (
        running_s3() as s3,
        running_sandbox(start=START, frozen=True) as sandbox,
        open_resources(_settings(root, sandbox, s3)) as res,
        _recorder(res.engine, clock, secret) as url,
        running_marketplace() as market,
    ):
        upgrade(res.engine)
        sandbox.register_webhook(f"{url}/webhooks/stripe", secret)
        sandbox.chaos(duplicate=0.1, reorder=20, seed=seed)
        # buyers hear of a retry link only from the marketplace, a minute before they look
        sandbox.buyers(enabled=True, seed=seed, links_need_notice=True, notice_to_action_s=60)
        endpoint = add_endpoint(res.engine, market.url, clock.now())
        market.secrets.append(endpoint.secret)

        def tell_the_buyer(message: Received) -> None:
            link = message.type == "payment.retry_link"
            if link and sandbox.notify_buyer(str(message.data["session_id"])):
                told.append(message.order_id or "")

        market.on_message = tell_the_buyer
        seller = res.stripe.v1.accounts.create(params={"type": "express"}).id
        day = _Day(res, sandbox, clock, seller, random.Random(seed))
        _simulate(day, orders_count, step, console)
        findings, report = _reconcile(day, out, console)
        payouts = res.stripe.v1.payouts.list(params={"limit": 100}).auto_paging_iter()
        paid_out = list(payouts)
        result = _result(res.engine, day, findings, report, time.perf_counter() - started)
        result.notifications = (len(market.received), len(told))
    result.payouts = (len(paid_out), sum(int(p.amount) for p in paid_out))
    _print(console, result, orders_count)
    return result


def _settings(root: Path, sandbox: Any, s3: Any) -> Settings:
    """The demo's configuration: embedded SQLite, the sandbox, the S3/KMS emulator."""
    return load_settings(
        database_url=f"sqlite:///{root}/paywindow.db",
        data_dir=root / "data",
        stripe_api_key=sandbox.api_key,
        stripe_api_base=sandbox.base_url,
        payment_window=WINDOW,
        checkout_success_url="https://m.example/ok",
        checkout_cancel_url="https://m.example/cancel",
        s3_endpoint_url=s3.endpoint_url,
        s3_region=s3.region,
        s3_access_key_id=TEST_CREDENTIALS["access_key_id"],
        s3_secret_access_key=TEST_CREDENTIALS["secret_access_key"],
        receipts_bucket=s3.bucket,
        receipts_kms_key_id=s3.kms_key_id,
        receipts_platform_name="paywindow demo marketplace",
        receipts_legal_footer="paywindow Demo Ltd. · 1 Example Street · London",
    )


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
    open_order(day.engine, day.client, request, day.res.checkout, day.clock.now())


def _advance(day: _Day, seconds: float) -> None:
    if seconds > 0:
        day.sandbox.advance(seconds)
        day.clock.advance(seconds)


def _tick(day: _Day, step: timedelta) -> None:
    """One step of the day, as the deployments run it: ``expire-windows`` closes each window
    on time while the clock moves (a late buyer pays in the gap before Stripe is told),
    then ``process-events``, ``schedule-retries`` and ``render-receipts`` run."""
    jobs.expire_windows(
        day.res,
        day.clock,
        horizon=step.total_seconds(),
        sleep=lambda s: _advance(day, s),
        max_nap=step.total_seconds(),
        on_closed=lambda order_id: _pays_too_late(day, order_id),
    )
    _apply(day)
    _late_buyers(day)
    applied = time.perf_counter()
    jobs.schedule_retries(day.res, day.clock)
    _refunds_and_dispute(day)
    _apply(day)
    _render_receipts(day, applied)
    jobs.deliver_notifications(day.res, day.clock, once=True)


def _apply(day: _Day) -> None:
    day.sandbox.flush_webhooks()
    while sum(jobs.process_events(day.res, day.clock).values()):
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
        ensure_checkout(day.engine, day.client, order_id, day.res.checkout, now)  # a new session
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
    stored = jobs.render_due_receipts(day.res, day.clock)["stored"]
    if stored:
        day.receipt_latency.extend([time.perf_counter() - since] * stored)


def _settle(day: _Day) -> None:
    """Four more days: bank debits settle (3 days), refunds land, daily payouts go out."""
    for _ in range(4 * 6):
        _advance(day, 4 * 3600)
        _apply(day)
        jobs.expire_windows(day.res, day.clock, horizon=0)
    _apply(day)
    _render_receipts(day, time.perf_counter())


def _reconcile(day: _Day, out: Path, console: Console) -> tuple[dict[str, int], Path | None]:
    """``reconcile-range`` over the whole demo: sync the ledger, reconcile, write reports."""
    now = day.clock.now()
    with console.status("syncing Stripe's ledger and reconciling"):
        jobs.sync_ledger(day.res, day.clock)
        outcome = jobs.reconcile_period(
            day.res,
            day.clock,
            first=START.date(),
            last=(now - timedelta(days=1)).date(),
            out_dir=out,
        )
    html = outcome["files"].get("html")
    return dict(outcome["summary"]["by_kind"]), Path(html) if html else None


def _result(
    engine: Engine, day: _Day, findings: dict[str, int], report: Path | None, seconds: float
) -> DemoResult:
    with engine.connect() as conn:
        states: dict[str, int] = dict(
            conn.execute(select(orders.c.state, func.count()).group_by(orders.c.state)).all()
        )
        plans = conn.execute(select(retry_plans.c.order_id)).scalars().all()
        closed = conn.execute(
            select(orders.c.deadline, orders.c.window_closed_at).where(
                orders.c.window_closed_at.is_not(None)
            )
        ).all()
    day.lateness = [abs((at - deadline).total_seconds()) for deadline, at in closed]
    with engine.connect() as conn:
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
    received, told = result.notifications
    table.add_row(
        "webhooks to the marketplace", f"{received} verified, {told} retry links told to buyers"
    )
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
