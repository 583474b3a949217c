"""The world and its builder: the sandbox on a frozen clock, a connected seller, the store, and,
as options, the serve app, the receipt service and a ledger directory (see the package face)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import stripe
from sqlalchemy import Engine, update

from paywindow.clock import ManualClock
from paywindow.inbox.backstop import record_session
from paywindow.inbox.processor import process_due
from paywindow.payments.checkout import CheckoutPolicy
from paywindow.payments.repository import NewOrder, create_order
from paywindow.payments.stripe_events import ATTEMPT_KEY, ORDER_KEY
from paywindow.receipts.pool import inline
from paywindow.receipts.service import ReceiptService, RunReport
from paywindow.reconcile.sync import SyncReport, sync_ledger
from paywindow.sandbox import SandboxHandle, running_sandbox
from paywindow.sandbox.s3 import S3Handle
from paywindow.store.tables import orders
from paywindow.stripe_ids import new_id
from paywindow.web.app import RecorderConfig, create_app
from paywindow.web.orders import OrdersService
from tests.factories import NOW, plan_attempt, record
from tests.web.conftest import serve_in_thread
from tests.world.receipts import receipt_service, renderer

TOKEN = "test-token-" + new_id("t", 16)
SUPPORT_TOKEN = "test-support-" + new_id("t", 16)
#: The window of orders opened with :meth:`World.open` unless a test says otherwise.
OPEN_WINDOW = timedelta(hours=23)


@dataclass
class World:
    """Everything a story touches; ``url`` is empty and ``receipts`` None unless asked for."""

    sandbox: SandboxHandle
    engine: Engine
    clock: ManualClock
    client: stripe.StripeClient
    seller: str
    service: OrdersService
    started: datetime
    data_dir: Path
    url: str = ""
    receipts: ReceiptService | None = None
    charges: dict[str, str] = field(default_factory=dict)  # order id -> charge id
    injected: dict[str, str] = field(default_factory=dict)  # finding kind -> order/payout id
    dropped_orders: set[str] = field(default_factory=set)  # their events never reach us
    seen_events: set[str] = field(default_factory=set)

    @property
    def stripe(self) -> Any:
        """The client, untyped: stories read Stripe's answers without narrowing each field."""
        return self.client

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, delta: timedelta | float) -> datetime:
        """Move both clocks (the sandbox's timers fire: expiry, availability, payouts)."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        self.sandbox.advance(step)
        return self.clock.advance(step)

    # -- the marketplace app, through the order API (``serve=True``) ----------------------

    def api(self, method: str, path: str, *, token: str = TOKEN, **kwargs: Any) -> httpx.Response:
        """Call the order API as the marketplace app (or with another ``token``)."""
        assert self.url, "build_world(serve=False) has no order API"
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def support(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the order API as support (the support token)."""
        return self.api(method, path, token=SUPPORT_TOKEN, **kwargs)

    def create(self, order_id: str, /, **overrides: Any) -> httpx.Response:
        return self.api("POST", "/v1/orders", json=order_body(order_id, self.seller, **overrides))

    def settle(self) -> None:
        """Deliver every webhook and apply every recorded event."""
        self.sandbox.flush_webhooks()
        while process_due(self.engine, self.clock.now()).total:
            pass

    # -- receipts (``s3=...``) ------------------------------------------------------------

    def render(self) -> RunReport:
        """Issue and render every due receipt and credit note now (in-process WeasyPrint)."""
        assert self.receipts is not None, "build_world(s3=...) wires the receipt service"
        return self.receipts.run_once(self.clock, inline(renderer()))

    # -- Stripe directly, for sessions the order API would never make ---------------------

    def open(
        self, order_id: str, amount: int, *, currency: str = "usd", fee: int | None = None,
        deadline: timedelta = OPEN_WINDOW,
    ) -> None:  # fmt: skip
        """Open an order in the store as the order API would, without a session."""
        now = self.now()
        with self.engine.begin() as conn:
            create_order(
                conn,
                NewOrder(
                    id=order_id,
                    currency=currency,
                    amount_total=amount,
                    application_fee_amount=amount // 10 if fee is None else fee,
                    seller_account=self.seller,
                    buyer_id=f"u_{order_id}",
                    deadline=now + deadline,
                ),
                now,
            )

    def session(
        self, order_id: str, amount: int, *, currency: str = "usd", fee: int | None = None,
        attempt: int = 1, expires: timedelta = OPEN_WINDOW,
    ) -> str:  # fmt: skip
        """A Checkout Session of the order's ``attempt`` (planned first, as checkout does)."""
        metadata = {ORDER_KEY: order_id, ATTEMPT_KEY: str(attempt)}
        with self.engine.begin() as conn:
            plan_attempt(conn, order_id, attempt, self.now())
        session = self.client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": currency,
                            "unit_amount": amount,
                            "product_data": {"name": "Signed vinyl"},
                        },
                        "quantity": 1,
                    }
                ],
                "client_reference_id": order_id,
                "metadata": metadata,
                "expires_at": int((self.now() + expires).timestamp()),
                "success_url": "https://marketplace.example/paid",
                "payment_intent_data": {
                    "application_fee_amount": amount // 10 if fee is None else fee,
                    "transfer_data": {"destination": self.seller},
                    "metadata": metadata,
                },
            }
        )
        return str(session.id)

    def pay(self, session_id: str) -> str:
        """The buyer pays the session; return the charge id."""
        return str(self.sandbox.pay(session_id, "success")["charge"]["id"])

    def sell(self, order_id: str, amount: int, **kwargs: Any) -> str:
        """Open an order and pay it in full through Checkout; return the charge id."""
        self.open(order_id, amount, currency=kwargs.get("currency", "usd"))
        charge = self.pay(self.session(order_id, amount, **kwargs))
        self.charges[order_id] = charge
        return charge

    def refund(self, charge: str, amount: int | None = None) -> Any:
        """Refund at Stripe as paywindow does a destination charge: transfer and fee back."""
        params: Any = {"charge": charge, "reverse_transfer": True, "refund_application_fee": True}
        if amount is not None:
            params["amount"] = amount
        return self.client.v1.refunds.create(params=params)

    def deliver(self) -> None:
        """Pull every new sandbox event (except dropped orders'), record it and apply it."""
        events = self.client.v1.events.list(params={"limit": 100}).auto_paging_iter()
        fresh = [e.to_dict() for e in events if e.id not in self.seen_events]
        self.seen_events |= {e["id"] for e in fresh}
        keep = [e for e in reversed(fresh) if _order_of(e) not in self.dropped_orders]
        record(self.engine, *keep)
        for later in (0, 3600, 6 * 3600):
            while process_due(self.engine, self.now() + timedelta(seconds=later)).total:
                pass

    def tamper(self, order_id: str, **values: Any) -> None:
        """Change the order's row behind paywindow's back."""
        with self.engine.begin() as conn:
            conn.execute(update(orders).where(orders.c.id == order_id).values(**values))

    # -- the ledger ----------------------------------------------------------------------

    def sync(self) -> SyncReport:
        """Pull Stripe's ledger into Parquet under ``data_dir``, a week's overlap."""
        return sync_ledger(
            self.engine, self.client, self.data_dir, now=self.now(), overlap=timedelta(days=7)
        )


def _order_of(event: dict[str, Any]) -> str | None:
    found = (event["data"]["object"].get("metadata") or {}).get(ORDER_KEY)
    return str(found) if found else None


def order_body(order_id: str, seller: str, /, **overrides: Any) -> dict[str, Any]:
    """A ``POST /v1/orders`` body: 25.00 USD, 3.00 of it the platform's fee."""
    body: dict[str, Any] = {
        "order_id": order_id,
        "buyer": {"id": "u_9", "email": "b@example.com", "customer": None},
        "seller_account": seller,
        "currency": "usd",
        "application_fee_amount": 300,
        "line_items": [{"name": "Signed vinyl", "unit_amount": 2500, "quantity": 1}],
        "locale": "en-US",
    }
    body.update(overrides)
    return body


def policy(window: timedelta = timedelta(hours=24)) -> CheckoutPolicy:
    return CheckoutPolicy(
        window=window,
        margin=timedelta(minutes=5),
        success_url="https://m.example/done?s={CHECKOUT_SESSION_ID}",
        cancel_url="https://m.example/cancel",
        record_session=record_session,
    )


@contextmanager
def build_world(
    engine: Engine,
    *,
    window: timedelta = timedelta(hours=24),
    start: datetime = NOW,
    serve: bool = True,
    s3: S3Handle | None = None,
    data_dir: Path | None = None,
) -> Iterator[World]:
    """Build a world on ``engine`` (migrated, empty); the package face lists the options."""
    clock = ManualClock(start)
    with ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(TemporaryDirectory(prefix="paywindow-ledger-")))
        sandbox = stack.enter_context(running_sandbox(start=start, frozen=True))
        yield from _built(engine, sandbox, clock, window, serve, s3, data_dir)


def _built(
    engine: Engine,
    sandbox: SandboxHandle,
    clock: ManualClock,
    window: timedelta,
    serve: bool,
    s3: S3Handle | None,
    data_dir: Path,
) -> Iterator[World]:
    """The world on a running sandbox: the seller, the services, and the app if served."""
    client = sandbox.client(max_network_retries=2)
    seller = str(client.v1.accounts.create(params={"type": "express"}).id)
    receipts = None if s3 is None else receipt_service(engine, s3)
    service = OrdersService(
        engine=engine,
        client=client,
        policy=policy(window),
        clock=clock,
        token=TOKEN,
        support_token=SUPPORT_TOKEN,
        receipts=receipts,
    )
    world = World(sandbox, engine, clock, client, seller, service, clock.now(), data_dir)
    world.receipts = receipts
    if not serve:
        yield world
        return
    secret = "whsec_" + new_id("w", 24)
    config = RecorderConfig(
        engine=engine, clock=clock, secrets=[secret], run_processor=False, orders=service
    )
    for url in serve_in_thread(create_app(config)):
        sandbox.register_webhook(f"{url}/webhooks/stripe", secret)
        world.url = url
        yield world
