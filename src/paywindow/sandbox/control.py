"""The sandbox control API under ``/_sandbox/`` (JSON in, JSON out; see docs/sandbox.md).

These routes drive what Stripe's outside world would do: the clock, buyers, disputes, webhook
chaos and delivery. They are not part of Stripe's API and need no API key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from paywindow.sandbox.buyers import pay_session
from paywindow.sandbox.engine import Ctx, Engine
from paywindow.sandbox.outcomes import parse_outcome
from paywindow.sandbox.population import (
    BuyerModel,
    BuyerPopulation,
    install_population,
    notify_buyer,
)
from paywindow.sandbox.resources.customers import script_outcomes
from paywindow.sandbox.resources.events import create_endpoint
from paywindow.sandbox.webhooks import Chaos, Dispatcher
from paywindow.sandbox.wire import Obj, invalid

__all__ = ["CONTROL", "ControlHandler", "control", "parse_instant"]

ControlHandler = Callable[..., Obj]
CONTROL: list[tuple[str, re.Pattern[str], ControlHandler]] = []


def control(method: str, template: str) -> Callable[[ControlHandler], ControlHandler]:
    """Register ``handler(engine, dispatcher, ctx, body, **path)`` for a control route."""
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")

    def register(handler: ControlHandler) -> ControlHandler:
        CONTROL.append((method, pattern, handler))
        return handler

    return register


def parse_instant(value: Any) -> float:
    """Unix seconds from a number or an ISO 8601 string (naive means UTC)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise invalid(f"Invalid instant: {value}", "set") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _clock_state(engine: Engine) -> Obj:
    now = engine.clock.now()
    iso = datetime.fromtimestamp(now, UTC).isoformat()
    return {"now": int(now), "now_float": now, "iso": iso, "frozen": engine.clock.frozen}


@control("GET", "/_sandbox/clock")
def _get_clock(engine: Engine, dispatcher: Dispatcher, ctx: Ctx, body: Obj) -> Obj:
    return _clock_state(engine)


@control("POST", "/_sandbox/clock")
def _set_clock(engine: Engine, dispatcher: Dispatcher, ctx: Ctx, body: Obj) -> Obj:
    if "frozen" in body:
        engine.clock.freeze(bool(body["frozen"]))
    if body.get("set") is not None:  # going back in time never un-fires effects
        engine.clock.set(parse_instant(body["set"]))
    if body.get("advance") is not None:
        seconds = float(body["advance"])
        if seconds < 0:
            raise invalid("advance must not be negative", "advance")
        engine.clock.advance(seconds)
    engine.tick()
    return _clock_state(engine)


@control("POST", "/_sandbox/checkout/sessions/{id}/pay")
def _pay(engine: Engine, dispatcher: Dispatcher, ctx: Ctx, body: Obj, id: str) -> Obj:
    return pay_session(engine, ctx, id, body)


@control("GET", "/_sandbox/chaos")
def _get_chaos(engine: Engine, dispatcher: Dispatcher, ctx: Ctx, body: Obj) -> Obj:
    return dict(vars(dispatcher.chaos))


@control("POST", "/_sandbox/chaos")
def _set_chaos(engine: Engine, dispatcher: Dispatcher, ctx: Ctx, body: Obj) -> Obj:
    known = set(vars(Chaos()))
    unknown = set(body) - known
    if unknown:
        raise invalid(f"Unknown chaos switches: {sorted(unknown)}", "chaos")
    dispatcher.set_chaos(Chaos(**body))
    return dict(vars(dispatcher.chaos))


@control("POST", "/_sandbox/webhooks")
def _register(engine: Engine, dispatcher: Dispatcher, ctx: Ctx, body: Obj) -> Obj:
    if not body.get("url"):
        raise invalid("url is required", "url")
    return create_endpoint(
        engine,
        str(body["url"]),
        list(body.get("enabled_events") or ["*"]),
        engine.now(),
        secret=body.get("secret"),
        connect=bool(body.get("connect", False)),
    )


@control("GET", "/_sandbox/webhooks")
def _webhook_status(engine: Engine, dispatcher: Dispatcher, ctx: Ctx, body: Obj) -> Obj:
    return dispatcher.status()


@control("POST", "/_sandbox/payment_methods/{id}")
def _script(engine: Engine, dispatcher: Dispatcher, ctx: Ctx, body: Obj, id: str) -> Obj:
    pm = engine.store.require(id, "payment_method", None, "id")
    outcomes = [parse_outcome(o) for o in body.get("outcomes") or []]
    default = parse_outcome(body.get("default") or {"outcome": "success"})
    script_outcomes(engine, id, outcomes, default)
    return pm


@control("POST", "/_sandbox/config")
def _config(engine: Engine, dispatcher: Dispatcher, ctx: Ctx, body: Obj) -> Obj:
    config = engine.config
    for key, value in body.items():
        if key == "fee_percent":
            config.fee_percent = Decimal(str(value))
        elif key == "currency_fees":
            config.currency_fees = {
                c.lower(): (Decimal(str(p)), int(f)) for c, (p, f) in value.items()
            }
        elif key == "webhook_retry_delays":
            config.webhook_retry_delays = tuple(int(v) for v in value)
        elif key in ("fee_fixed", "dispute_fee", "available_days", "payout_arrival_days"):
            setattr(config, key, int(value))
        elif key == "payouts":
            config.payouts = bool(value)
        else:
            raise invalid(f"Unknown config key: {key}", key)
    if config.payouts:
        from paywindow.sandbox.resources.balance import schedule_payouts

        schedule_payouts(engine, engine.now())
    return {"fee_percent": str(config.fee_percent), "fee_fixed": config.fee_fixed}


@control("POST", "/_sandbox/buyers")
def _buyers(engine: Engine, dispatcher: Dispatcher, ctx: Ctx, body: Obj) -> Obj:
    if not body.get("enabled", True):
        install_population(engine, None)
        return {"enabled": False}
    model = BuyerModel.from_json(body.get("model") or {})
    install_population(engine, BuyerPopulation(model, body.get("seed")))
    return {"enabled": True, "model": model.to_json()}


@control("POST", "/_sandbox/buyers/notify")
def _notify_buyer(engine: Engine, dispatcher: Dispatcher, ctx: Ctx, body: Obj) -> Obj:
    session_id = body.get("session")
    if not isinstance(session_id, str):
        raise invalid("session (a Checkout Session id) is required", "session")
    return {"notified": notify_buyer(engine, session_id)}


@control("GET", "/_sandbox/health")
def _health(engine: Engine, dispatcher: Dispatcher, ctx: Ctx, body: Obj) -> Obj:
    return {"ok": True, "platform": engine.store.platform, **_clock_state(engine)}
