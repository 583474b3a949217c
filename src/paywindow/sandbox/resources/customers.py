"""Customers and payment methods (saved cards).

A payment method remembers, in internal data, how it behaves when charged: a queue of scripted
outcomes (``/_sandbox/payment_methods/{id}``) consumed one per attempt, then its default.
"""

from __future__ import annotations

from paywindow.sandbox.engine import Ctx, Engine, route
from paywindow.sandbox.outcomes import Outcome, parse_outcome
from paywindow.sandbox.wire import (
    Obj,
    created_filter,
    invalid,
    missing,
    paginate,
    reject_unknown,
    update_metadata,
)
from paywindow.stripe_ids import new_id

__all__ = ["create_customer", "make_payment_method", "next_outcome", "script_outcomes"]

_CUSTOMER_PARAMS = ("email", "name", "description", "metadata", "phone", "address")


def create_customer(engine: Engine, ctx: Ctx, params: Obj, at: int) -> Obj:
    """Create a customer from API-style params."""
    customer: Obj = {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": at,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description") or None,
        "email": params.get("email") or None,
        "invoice_prefix": new_id("", 8).upper(),
        "invoice_settings": {"default_payment_method": None},
        "livemode": False,
        "metadata": update_metadata({}, params.get("metadata")),
        "name": params.get("name") or None,
        "phone": params.get("phone") or None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
    }
    engine.store.add(customer, owner=ctx.account)
    engine.emit("customer.created", customer, at, ctx)
    return customer


def make_payment_method(
    engine: Engine, ctx: Ctx, at: int, *, last4: str, kind: str = "card", email: str | None = None
) -> Obj:
    """Create an unattached payment method (a card, or an async bank method)."""
    pm: Obj = {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {"address": None, "email": email, "name": None, "phone": None},
        "created": at,
        "customer": None,
        "livemode": False,
        "metadata": {},
        "type": kind,
    }
    if kind == "card":
        pm["card"] = {
            "brand": "visa",
            "country": "US",
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": new_id("", 16),
            "funding": "credit",
            "last4": last4,
            "networks": {"available": ["visa"], "preferred": None},
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        }
    else:
        pm[kind] = {"last4": last4, "bank_name": "STRIPE TEST BANK"}
    engine.store.add(pm, owner=ctx.account)
    return pm


def script_outcomes(engine: Engine, pm_id: str, outcomes: list[Outcome], default: Outcome) -> None:
    """Set how a payment method behaves on its next attempts, then for ever after."""
    extra = engine.store.extra(pm_id)
    extra["script"] = [o.to_json() for o in outcomes]
    extra["default"] = default.to_json()


def next_outcome(engine: Engine, pm_id: str) -> Outcome:
    """Consume the payment method's next scripted outcome (success when nothing is scripted)."""
    extra = engine.store.extra(pm_id)
    script = extra.get("script") or []
    if script:
        return parse_outcome(script.pop(0))
    return parse_outcome(extra.get("default") or {"outcome": "success"})


@route("POST", "/v1/customers")
def _create(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    reject_unknown(params, (*_CUSTOMER_PARAMS, "payment_method"))
    return create_customer(engine, ctx, params, engine.now())


@route("GET", "/v1/customers/{id}")
def _get(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "customer", ctx.account)


@route("POST", "/v1/customers/{id}")
def _update(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    reject_unknown(params, (*_CUSTOMER_PARAMS, "invoice_settings"))
    customer = engine.store.require(id, "customer", ctx.account)
    for key in ("email", "name", "description", "phone"):
        if key in params:
            customer[key] = params[key] or None
    customer["metadata"] = update_metadata(customer["metadata"], params.get("metadata"))
    settings = params.get("invoice_settings")
    if isinstance(settings, dict) and "default_payment_method" in settings:
        default = settings["default_payment_method"] or None
        customer["invoice_settings"]["default_payment_method"] = default
    engine.store.dirty = True
    engine.emit("customer.updated", customer, engine.now(), ctx)
    return customer


@route("GET", "/v1/customers")
def _list(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    in_range, email = created_filter(params), params.get("email")
    items = [
        c
        for c in engine.store.newest_first("customer", ctx.account)
        if in_range(c) and (email is None or c["email"] == email)
    ]
    return paginate(items, params, "/v1/customers", engine.store.position)


def _list_pms(engine: Engine, ctx: Ctx, params: Obj, customer: str | None) -> Obj:
    kind = params.get("type")
    items = [
        pm
        for pm in engine.store.newest_first("payment_method", ctx.account)
        if (customer is None or pm["customer"] == customer) and (kind is None or pm["type"] == kind)
    ]
    return paginate(items, params, "/v1/payment_methods", engine.store.position)


@route("GET", "/v1/payment_methods")
def _list_payment_methods(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    customer = params.get("customer")
    if customer:
        engine.store.require(str(customer), "customer", ctx.account, "customer")
    return _list_pms(engine, ctx, params, str(customer) if customer else None)


@route("GET", "/v1/customers/{id}/payment_methods")
def _customer_pms(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    engine.store.require(id, "customer", ctx.account)
    page = _list_pms(engine, ctx, params, id)
    page["url"] = f"/v1/customers/{id}/payment_methods"
    return page


@route("GET", "/v1/payment_methods/{id}")
def _get_pm(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "payment_method", ctx.account)


@route("POST", "/v1/payment_methods/{id}/attach")
def _attach(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    pm = engine.store.require(id, "payment_method", ctx.account)
    if not params.get("customer"):
        raise missing("customer")
    customer = engine.store.require(str(params["customer"]), "customer", ctx.account, "customer")
    if pm["customer"] not in (None, customer["id"]):
        raise invalid("The payment method you provided has already been attached to a customer.")
    pm["customer"] = customer["id"]
    engine.store.dirty = True
    engine.emit("payment_method.attached", pm, engine.now(), ctx)
    return pm


@route("POST", "/v1/payment_methods/{id}/detach")
def _detach(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    pm = engine.store.require(id, "payment_method", ctx.account)
    if pm["customer"] is None:
        raise invalid("The payment method you provided is not attached to a customer.")
    pm["customer"] = None
    engine.store.dirty = True
    engine.emit("payment_method.detached", pm, engine.now(), ctx)
    return pm
