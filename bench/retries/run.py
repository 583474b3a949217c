"""Failed-payment recovery on a simulated population, through the real retry code.

2,000 orders (by default) are opened over the first 100 minutes on the sandbox clock; the
sandbox's buyer population (``paywindow.sandbox.population.BuyerModel``, its defaults, all
documented in docs/sandbox.md, not tuned here) decides who pays, when, with which decline, and
whether a buyer pays a retry link. Every 5 sandbox minutes the loop does what the deployments
do: webhooks are delivered to the real recorder and applied by the processor, the
``schedule-retries`` domain run (``run_retries``) executes due attempts, the relay delivers the
outbox as signed webhooks to a simulated marketplace backend
(``paywindow.sandbox.marketplace``) over HTTP, and the ``expire-windows`` domain steps close
overdue windows. A buyer hears of a retry link only from the marketplace: when the
``payment.retry_link`` webhook reaches it (signature verified), it tells the buyer, who looks at
the link ``notice_to_action_s`` later (the sandbox's ``links_need_notice`` mode) — never by
watching Stripe. Orders are split at random (seeded)
into a **retries** arm and a **holdout** arm whose plans are closed on opening, so the
recovery rate with and without retries comes from the same run.
Run: ``uv run python -m bench.retries.run [--orders N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import Engine, select
from tests.web.conftest import serve_in_thread

from bench.docs import machine_line, update_section
from paywindow.clock import ManualClock
from paywindow.inbox.backstop import record_session
from paywindow.inbox.processor import process_due
from paywindow.notify import Relay, RelayConfig, add_endpoint
from paywindow.payments.checkout import CheckoutPolicy
from paywindow.payments.expiry import close_overdue, expire_stripe_sessions
from paywindow.payments.orders import LineItem, OrderRequest, open_order
from paywindow.retries import RetryPolicy, run_retries
from paywindow.retries.report import RecoveryReport, recovery_report
from paywindow.sandbox import running_sandbox
from paywindow.sandbox.marketplace import Received, running_marketplace
from paywindow.store import make_engine, upgrade
from paywindow.store.sql import insert_ignoring_conflicts
from paywindow.store.tables import payment_failures, retry_plans
from paywindow.web.app import RecorderConfig, create_app

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
TICK = timedelta(minutes=5)
TARGET = 0.30
#: Seconds from the marketplace's notice to the buyer looking at a retry link.
NOTICE_TO_ACTION_S = 60.0
#: The figure before buyers had to be told (they found new sessions inside the sandbox).
BEFORE = "61.2% (2,000 orders, seed 5, buyers noticing retry sessions inside the sandbox)"


def _holdout_plans(engine: Engine, holdout: set[str], now: datetime) -> None:
    """Close the plan of every failed holdout order before the retry run can open it."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                payment_failures.c.order_id,
                payment_failures.c.failure_key,
                payment_failures.c.failed_at,
            )
            .outerjoin(retry_plans, retry_plans.c.order_id == payment_failures.c.order_id)
            .where(retry_plans.c.order_id.is_(None))
        ).all()
    plans = [
        {
            "order_id": r.order_id,
            "status": "closed",
            "first_failed_at": r.failed_at,
            "failure_key": r.failure_key,
            "decline_class": "holdout",
            "opened_at": now,
            "closed_at": now,
            "close_reason": "holdout",
        }
        for r in rows
        if r.order_id in holdout
    ]
    with engine.begin() as conn:
        insert_ignoring_conflicts(conn, retry_plans, plans)


def simulate(orders: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    holdout = {f"ord_{n:05d}" for n in range(orders) if rng.random() < 0.5}
    clock = ManualClock(START)
    checkout = CheckoutPolicy(
        timedelta(hours=24), timedelta(minutes=5), "https://x/ok", "https://x/no", record_session
    )
    policy = RetryPolicy(checkout=checkout)
    started = time.perf_counter()
    runs = 0
    told: list[str] = []

    def tell_the_buyer(message: Received) -> None:
        link = message.type == "payment.retry_link"
        if link and sb.notify_buyer(str(message.data["session_id"])):
            told.append(message.order_id or "")

    with (
        tempfile.TemporaryDirectory() as tmp,
        running_sandbox(start=START, frozen=True) as sb,
        running_marketplace() as market,
    ):
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        client = sb.client(max_network_retries=2)
        seller = client.v1.accounts.create(params={"type": "express"}).id
        sb.buyers(
            enabled=True, seed=seed, links_need_notice=True, notice_to_action_s=NOTICE_TO_ACTION_S
        )
        endpoint = add_endpoint(engine, market.url, clock.now())
        market.secrets.append(endpoint.secret)
        market.on_message = tell_the_buyer
        relay = Relay(engine, clock, config=RelayConfig(timeout=5.0))
        config = RecorderConfig(
            engine=engine, clock=clock, secrets=["whsec_bench"], run_processor=False
        )
        for url in serve_in_thread(create_app(config)):
            sb.register_webhook(f"{url}/webhooks/stripe", "whsec_bench")
            per_tick = max(1, orders // 20)
            created = 0
            end = START + timedelta(minutes=100) + timedelta(hours=24, minutes=30)
            while clock.now() < end:
                for _ in range(min(per_tick, orders - created)):
                    request = OrderRequest(
                        order_id=f"ord_{created:05d}",
                        buyer_id=f"u_{created}",
                        seller_account=seller,
                        currency="usd",
                        application_fee_amount=300,
                        lines=(LineItem("Signed vinyl", 2500, 1),),
                        buyer_email=f"b{created}@example.com",
                    )
                    open_order(engine, client, request, checkout, clock.now())
                    created += 1
                sb.advance(TICK)
                clock.advance(TICK)
                sb.flush_webhooks()
                while process_due(engine, clock.now()).total:
                    pass
                _holdout_plans(engine, holdout, clock.now())
                run_retries(engine, client, policy, clock.now())
                relay.run_once()
                runs += 1
                close_overdue(engine, clock.now())
                expire_stripe_sessions(engine, client, clock.now())
        span = (START - timedelta(days=1), end + timedelta(days=1))
        treated = recovery_report(engine, *span, only=lambda o: o not in holdout)
        control = recovery_report(engine, *span, only=lambda o: o in holdout)
        relay.close()
        links = len(market.by_type("payment.retry_link"))
        engine.dispose()
    return {
        "orders": orders,
        "seed": seed,
        "holdout": len(holdout),
        "runs": runs,
        "seconds": time.perf_counter() - started,
        "treated": treated,
        "control": control,
        "links_delivered": links,
        "buyers_told": len(told),
        "rejected": market.rejected,
    }


def _rows(report: RecoveryReport, section: str) -> str:
    rows = getattr(report, section)
    return ", ".join(f"{r.label} {r.recovered}/{r.failed}" for r in rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.retries.run")
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    result = simulate(args.orders, args.seed)
    treated: RecoveryReport = result["treated"]
    control: RecoveryReport = result["control"]
    lift = treated.rate - control.rate
    lines = [
        f"`uv run python -m bench.retries.run --orders {args.orders} --seed {args.seed}` "
        f"({result['runs']} retry runs over {args.orders} orders, "
        f"{result['seconds']:.0f} s; {machine_line()}). Buyer model: the sandbox's "
        "`BuyerModel` defaults (docs/sandbox.md), not tuned. Orders split at random into a "
        f"retries arm ({args.orders - result['holdout']}) and a holdout arm "
        f"({result['holdout']}) in the same run.",
        "",
        "| arm | failed orders | recovered | recovery rate |",
        "|---|---|---|---|",
        f"| retries (1 h / 6 h / 18 h, at most 3) | {treated.failed} | {treated.recovered} | "
        f"{treated.rate:.1%} |",
        f"| holdout (no retries) | {control.failed} | {control.recovered} | {control.rate:.1%} |",
        f"| retries arm, recovered by the buyer alone | {treated.failed} | "
        f"{treated.recovered - treated.recovered_by_retry} | "
        f"{treated.rate_without_retries:.1%} |",
        "",
        f"- recovery with retries {treated.rate:.1%} (target >= {TARGET:.0%}: "
        f"{'met' if treated.rate >= TARGET else 'MISSED'}); lift over the holdout "
        f"{lift * 100:+.1f} points; recovered by a retry: "
        f"{treated.recovered_by_retry / treated.failed if treated.failed else 0:.1%} "
        "of failed orders",
        f"- buyers learn of retry links only from the marketplace: {result['links_delivered']} "
        f"`payment.retry_link` webhooks reached the simulated marketplace (signatures verified, "
        f"{result['rejected']} refused), {result['buyers_told']} buyers told; a told buyer "
        f"looks {NOTICE_TO_ACTION_S:.0f} s later, then pays on the model's usual time to pay",
        f"- before buyers had to be told: {BEFORE}",
        f"- by attempt (recovered/executed): {_rows(treated, 'by_attempt')}",
        f"- by channel (recovered/executed): {_rows(treated, 'by_channel')}",
        f"- by first decline code (recovered/failed): {_rows(treated, 'by_decline_code')}",
    ]
    body = "\n".join(lines)
    Console().print(body)
    if not args.no_docs:
        update_section("Retries", body)


if __name__ == "__main__":
    main()
