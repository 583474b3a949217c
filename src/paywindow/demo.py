"""``paywindow demo``: a marketplace morning on embedded defaults, end to end.

It starts the recorder (with its processor) and the Stripe sandbox, registers the recorder as
the sandbox's webhook endpoint, opens orders, creates real Checkout Sessions through the
stripe SDK, lets simulated buyers pay, decline, pay late by bank debit or walk away, refunds
and disputes a few payments, plays the 24-hour window out on the sandbox clock with duplicated
and reordered webhook deliveries, and prints the resulting orders.

Later issues grow this into a whole day (retries, receipts, reconciliation).
"""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import stripe
import uvicorn
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Engine, func, select

from paywindow.clock import SystemClock
from paywindow.payments.events import ATTEMPT_KEY, ORDER_KEY
from paywindow.payments.repository import NewOrder, create_order
from paywindow.recorder.app import RecorderConfig, create_app
from paywindow.store import make_engine, upgrade
from paywindow.store.tables import event_log, orders
from paywindow.stripe_ids import new_id

__all__ = ["run_demo"]

#: What each simulated buyer does (weights, not tuned to any result).
STORIES: dict[str, int] = {
    "pays": 55,
    "declined_then_pays": 10,
    "declined_and_leaves": 8,
    "stolen_card": 2,
    "bank_debit_settles": 6,
    "bank_debit_fails": 3,
    "walks_away": 10,
    "pays_then_refund": 4,
    "pays_then_partial_refund": 2,
}
WINDOW = timedelta(hours=23, minutes=30)  # Checkout caps expires_at below 24 h


@dataclass
class _Order:
    id: str
    story: str
    session_id: str = ""
    amount: int = 0


def run_demo(
    console: Console, *, orders_count: int = 60, seed: int = 7, root: Path | None = None
) -> None:
    """Run the demo and print a summary table; state lives under ``root`` (./var/demo)."""
    from paywindow.sandbox import running_sandbox

    root = root or Path("var/demo")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    engine = make_engine(f"sqlite:///{root}/paywindow.db")
    upgrade(engine)
    secret = "whsec_" + new_id("demo", 32)
    rng = random.Random(seed)
    with _recorder(engine, secret) as url, running_sandbox(frozen=True) as sandbox:
        sandbox.register_webhook(f"{url}/webhooks/stripe", secret)
        sandbox.chaos(duplicate=0.2, reorder=30)
        client = sandbox.client(max_network_retries=2)
        seller = client.v1.accounts.create(params={"type": "express"}).id
        start = sandbox.now()
        plan = _open_orders(engine, client, seller, start, orders_count, rng, console)
        _buyers_act(sandbox, client, plan, rng, console)
        sandbox.advance(WINDOW + timedelta(minutes=5))
        sandbox.advance(timedelta(days=4))  # bank debits settle or fail
        _dispute_one(sandbox, plan)
        _settle(sandbox, engine, console)
    _report(engine, plan, console)
    engine.dispose()


class _recorder:
    """The recorder app on a free loopback port in a thread, for the demo's lifetime."""

    def __init__(self, engine: Engine, secret: str) -> None:
        config = RecorderConfig(
            engine=engine, clock=SystemClock(), secrets=[secret], poll_interval=0.2
        )
        self._server = uvicorn.Server(
            uvicorn.Config(create_app(config), host="127.0.0.1", port=0, log_level="error")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *_exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def _open_orders(
    engine: Engine,
    client: stripe.StripeClient,
    seller: str,
    start: Any,
    count: int,
    rng: random.Random,
    console: Console,
) -> list[_Order]:
    plan = []
    names, weights = zip(*STORIES.items(), strict=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("opening orders and checkout sessions", total=count)
        for n in range(count):
            order = _Order(id=f"ord_demo_{n:04d}", story=rng.choices(names, weights)[0])
            order.amount = rng.choice([1500, 2500, 4200, 9900, 18000])
            with engine.begin() as conn:
                create_order(
                    conn,
                    NewOrder(
                        id=order.id,
                        currency="usd",
                        amount_total=order.amount,
                        application_fee_amount=order.amount // 10,
                        seller_account=seller,
                        buyer_id=f"u_{n}",
                        buyer_email=f"buyer{n}@example.com",
                        deadline=start + WINDOW,
                    ),
                    start,
                )
            order.session_id = _checkout(client, order, seller, start + WINDOW)
            plan.append(order)
            progress.advance(task)
    return plan


def _checkout(client: stripe.StripeClient, order: _Order, seller: str, deadline: Any) -> str:
    metadata = {ORDER_KEY: order.id, ATTEMPT_KEY: "1"}
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": order.amount,
                        "product_data": {"name": "Signed vinyl"},
                    },
                    "quantity": 1,
                }
            ],
            "client_reference_id": order.id,
            "metadata": metadata,
            "expires_at": int(deadline.timestamp()),
            "success_url": "https://marketplace.example/paid?session={CHECKOUT_SESSION_ID}",
            "payment_intent_data": {
                "application_fee_amount": order.amount // 10,
                "transfer_data": {"destination": seller},
                "metadata": metadata,
            },
        },
        options={"idempotency_key": f"{order.id}:1"},
    )
    return session.id


def _buyers_act(
    sandbox: Any,
    client: stripe.StripeClient,
    plan: list[_Order],
    rng: random.Random,
    console: Console,
) -> None:
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("buyers at the checkout", total=len(plan))
        for order in plan:
            sandbox.advance(rng.randint(30, 900))
            _act(sandbox, client, order)
            progress.advance(task)


def _act(sandbox: Any, client: stripe.StripeClient, order: _Order) -> None:
    story, sid = order.story, order.session_id
    if story in ("declined_then_pays", "declined_and_leaves"):
        sandbox.pay(sid, "decline", decline_code="insufficient_funds")
    if story == "stolen_card":
        sandbox.pay(sid, "decline", decline_code="stolen_card")
    if story in ("pays", "declined_then_pays", "pays_then_refund", "pays_then_partial_refund"):
        sandbox.pay(sid, "success")
        found = client.v1.checkout.sessions.retrieve(sid).payment_intent
        pi = found if isinstance(found, str) else found.id if found is not None else None
        if story == "pays_then_refund":
            client.v1.refunds.create(params={"payment_intent": str(pi)})
        if story == "pays_then_partial_refund":
            client.v1.refunds.create(
                params={"payment_intent": str(pi), "amount": order.amount // 4}
            )
    if story == "bank_debit_settles":
        sandbox.pay(sid, "success", async_="settle")
    if story == "bank_debit_fails":
        sandbox.pay(sid, "success", async_="fail")


def _dispute_one(sandbox: Any, plan: list[_Order]) -> None:
    payer = next((o for o in plan if o.story == "pays"), None)
    if payer is None:
        return
    session = sandbox.client().v1.checkout.sessions.retrieve(
        payer.session_id, params={"expand": ["payment_intent"]}
    )
    charge = session.payment_intent.latest_charge
    dispute = sandbox.open_dispute(str(charge))
    sandbox.close_dispute(dispute["id"], "lost")


def _settle(sandbox: Any, engine: Engine, console: Console) -> None:
    """Deliver every webhook and wait until the processor has applied them all."""
    with console.status("delivering webhooks and applying events"):
        for _ in range(600):
            sandbox.advance(60)  # reordered deliveries are due up to 30 s of sandbox time later
            sandbox.flush_webhooks()
            with engine.connect() as conn:
                pending = conn.execute(
                    select(func.count())
                    .select_from(event_log)
                    .where(event_log.c.status == "pending")
                ).scalar_one()
            if pending == 0 and sandbox.webhook_log().get("pending", 0) == 0:
                return
            time.sleep(0.1)


def _report(engine: Engine, plan: list[_Order], console: Console) -> None:
    with engine.connect() as conn:
        states = dict(conn.execute(select(orders.c.id, orders.c.state)).all())
        events: Counter[str] = Counter(
            dict(
                conn.execute(
                    select(event_log.c.status, func.count()).group_by(event_log.c.status)
                ).all()
            )
        )
    table = Table("buyer story", "orders", "resulting states", title="paywindow demo: orders")
    by_story: dict[str, Counter[str]] = {}
    for order in plan:
        by_story.setdefault(order.story, Counter())[states[order.id]] += 1
    for story, counts in sorted(by_story.items()):
        table.add_row(
            story, str(sum(counts.values())), ", ".join(f"{s} {n}" for s, n in counts.most_common())
        )
    console.print(table)
    console.print(f"orders by state: {dict(Counter(states.values()).most_common())}")
    console.print(f"events in the log by status: {dict(events)}")
    console.print(
        "inspect one: PAYWINDOW_DATABASE_URL=sqlite:///var/demo/paywindow.db "
        "paywindow orders show ord_demo_0000"
    )
