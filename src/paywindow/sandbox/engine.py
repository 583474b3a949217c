"""The sandbox engine: configuration, request context, routes, timers, events and expansion.

Design: resource modules register HTTP handlers with ``@route`` and time-driven effects with
``@timer``; the server decodes a request into a ``Ctx`` and params and calls the handler under
``Engine.lock``. Every mutation happens under that lock, so the event log is totally ordered.

Invariants:

* ``tick()`` fires every timer whose due time the clock has passed, in due order, and each
  effect is stamped with its own due time (not the time the clock was advanced to);
* events are immutable snapshots: ``emit`` deep-copies the object when the event is created;
* events older than the retention period are pruned on tick.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from paywindow.sandbox.clock import SandboxClock
from paywindow.sandbox.store import Store
from paywindow.sandbox.wire import Obj, StripeError, apply_expand, invalid, list_object
from paywindow.stripe_ids import new_id

__all__ = [
    "API_VERSION",
    "ROUTES",
    "TIMERS",
    "Ctx",
    "Engine",
    "Handler",
    "SandboxConfig",
    "route",
    "timer",
]

API_VERSION = "2026-10-28.endive"
DAY = 86_400


@dataclass
class SandboxConfig:
    """Tunable behaviour of the sandbox.

    ``fee_percent``/``fee_fixed`` price the Stripe processing fee (``currency_fees`` overrides
    them per currency); ``available_days`` is how many UTC days after capture funds become
    available; ``payouts`` turns automatic daily payouts at UTC midnight on or off.
    """

    api_key: str | None = None
    fee_percent: Decimal = Decimal("2.9")
    fee_fixed: int = 30
    currency_fees: dict[str, tuple[Decimal, int]] = field(default_factory=dict)
    dispute_fee: int = 1500
    available_days: int = 2
    payouts: bool = True
    payout_arrival_days: int = 1
    webhook_retry_delays: tuple[int, ...] = (300, 1800, 7200)
    webhook_timeout: float = 10.0
    event_retention_days: int = 30
    idempotency_days: int = 2


@dataclass
class Ctx:
    """One API request: the acting account, its ids and the host it was addressed to."""

    account: str
    request_id: str | None = None
    idempotency_key: str | None = None
    host: str = "127.0.0.1"


Handler = Callable[..., Obj]
TimerHandler = Callable[["Engine", str, int], None]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []
TIMERS: dict[str, TimerHandler] = {}


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    """Register ``handler(engine, ctx, params, **path)`` for ``METHOD /template/{name}``."""
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")

    def register(handler: Handler) -> Handler:
        ROUTES.append((method, pattern, handler))
        return handler

    return register


def timer(kind: str) -> Callable[[TimerHandler], TimerHandler]:
    """Register the effect of a timer kind: ``effect(engine, target, due)``."""

    def register(handler: TimerHandler) -> TimerHandler:
        TIMERS[kind] = handler
        return handler

    return register


def system_ctx(engine: Engine) -> Ctx:
    """Context of an automatic (timer-driven) effect: no request id, no key."""
    return Ctx(account=engine.store.platform)


class Engine:
    """State, clock and configuration of one sandbox, with the operations shared by resources."""

    def __init__(self, config: SandboxConfig, store: Store, clock: SandboxClock) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.lock = threading.RLock()
        self.event_sink: Callable[[Obj], int] = lambda _event: 0
        self.plugins: dict[str, Any] = {}

    def now(self) -> int:
        """Sandbox time in whole unix seconds."""
        return int(self.clock.now())

    def tick(self) -> None:
        """Fire every timer the clock has passed, oldest first, each at its own due time."""
        with self.lock:
            now = self.now()
            while (due_timer := self.store.pop_due(now)) is not None:
                due, _prio, _seq, kind, target = due_timer
                TIMERS[kind](self, target, due)
            self._prune_events(now)
            self.store.prune_idempotency(now - self.config.idempotency_days * DAY)

    def _prune_events(self, now: int) -> None:
        events = self.store.by_kind.get("event", [])
        horizon = now - self.config.event_retention_days * DAY
        while events and self.store.objects[events[0]]["created"] < horizon:
            self.store.remove(events[0])

    def emit(
        self,
        type_: str,
        obj: Obj,
        at: int,
        ctx: Ctx | None,
        previous: Obj | None = None,
    ) -> Obj:
        """Record an immutable event about ``obj`` and hand it to the webhook dispatcher."""
        owner = self.store.owner.get(obj.get("id", ""), self.store.platform)
        data: Obj = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        request = None
        if ctx is not None and ctx.request_id is not None:
            request = {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key}
        event: Obj = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": at,
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": request if request else {"id": None, "idempotency_key": None},
            "type": type_,
        }
        if owner != self.store.platform:
            event["account"] = owner
        self.store.add(event, owner=self.store.platform)
        event["pending_webhooks"] = self.event_sink(event)
        return event

    def stripe_fee(self, amount: int, currency: str) -> int:
        """Processing fee in minor units: ``round(amount * percent / 100) + fixed``."""
        percent, fixed = self.config.currency_fees.get(
            currency, (self.config.fee_percent, self.config.fee_fixed)
        )
        variable = (Decimal(amount) * percent / 100).quantize(Decimal(1), ROUND_HALF_UP)
        return int(variable) + fixed

    def expand(self, obj: Obj, params: Obj) -> Obj:
        """Apply ``expand[]`` to a response object."""
        paths = params.get("expand")
        if not paths:
            return obj
        if isinstance(paths, str):
            paths = [paths]
        if isinstance(paths, dict):
            paths = list(paths.values())
        return apply_expand(obj, [str(p) for p in paths], self._resolve)

    def _resolve(self, parent: Obj, name: str) -> Any:
        if name == "line_items" and parent.get("object") == "checkout.session":
            items = self.store.extra(parent["id"]).get("line_items", [])
            url = f"/v1/checkout/sessions/{parent['id']}/line_items"
            return list_object(items, False, url)
        value = parent.get(name)
        if value is None:
            return None
        if isinstance(value, str) and value in self.store.objects:
            return dict(self.store.objects[value])
        raise invalid(f"This property cannot be expanded ({name}).", "expand")


def card_error(status: int, fields: Obj) -> StripeError:
    """A ``card_error`` carrying a decline's fields (code, decline_code, charge, ...)."""
    extra = {k: v for k, v in fields.items() if k not in ("type", "message", "code", "param")}
    return StripeError(
        status,
        "card_error",
        fields["message"],
        code=fields.get("code"),
        param=fields.get("param"),
        **extra,
    )
