"""PaymentIntent and Charge endpoints, including off-session create+confirm with a saved card.

The outcome of an API confirmation comes from, in order: a Stripe test payment method id
(``pm_card_visa_chargeDeclinedInsufficientFunds``, ...), the payment method's scripted outcomes,
the buyer population (when enabled), else success.
"""

from __future__ import annotations

from collections.abc import Callable

from paywindow.sandbox.engine import Ctx, Engine, route
from paywindow.sandbox.outcomes import DECLINES, MAGIC_PAYMENT_METHODS, Outcome
from paywindow.sandbox.payments import (
    attempt,
    decline_error,
    finish_success,
    new_payment_intent,
)
from paywindow.sandbox.resources.checkout import FEE_WITHOUT_DESTINATION
from paywindow.sandbox.resources.connect import require_destination
from paywindow.sandbox.resources.customers import make_payment_method, next_outcome
from paywindow.sandbox.wire import (
    Obj,
    StripeError,
    as_bool,
    as_int,
    created_filter,
    invalid,
    missing,
    paginate,
    reject_unknown,
    update_metadata,
)

__all__ = ["OFF_SESSION_MODEL"]

# Optional buyer-population hook: (engine, pm_id, attempt_number) -> Outcome | None.
OFF_SESSION_MODEL: list[Callable[[Engine, str, int], Outcome | None]] = []

_CREATE = [
    "amount",
    "currency",
    "customer",
    "payment_method",
    "confirm",
    "off_session",
    "metadata",
    "description",
    "application_fee_amount",
    "transfer_data",
    "setup_future_usage",
    "capture_method",
    "payment_method_types",
    "receipt_email",
    "statement_descriptor_suffix",
    "on_behalf_of",
    "transfer_group",
    "error_on_requires_action",
    "automatic_payment_methods",
    "return_url",
    "mandate_data",
    "payment_method_options",
    "confirmation_method",
    "statement_descriptor",
]
_CHECKOUT_PI = (
    "You cannot perform this action on PaymentIntents created by Checkout. "
    "(Hint: The feature you are trying to use is deprecated.)"
)


def _amount(params: Obj) -> tuple[int, str]:
    for key in ("amount", "currency"):
        if key not in params or params[key] == "":
            raise missing(key)
    amount = as_int(params["amount"], "amount")
    if amount < 50:
        raise StripeError(
            400,
            "invalid_request_error",
            "Amount must be at least 50 cents",
            code="amount_too_small",
            param="amount",
        )
    return amount, str(params["currency"]).lower()


def _connect_fields(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    fields: Obj = {}
    transfer = params.get("transfer_data")
    if isinstance(transfer, dict):
        param = "transfer_data[destination]"
        if not transfer.get("destination"):
            raise missing(param)
        dest = require_destination(engine, transfer["destination"], param)
        amount = transfer.get("amount")
        fixed = as_int(amount, "transfer_data[amount]") if amount else None
        fields["transfer_data"] = {"amount": fixed, "destination": dest}
    if params.get("application_fee_amount") not in (None, ""):
        fee = as_int(params["application_fee_amount"], "application_fee_amount")
        if "transfer_data" not in fields and ctx.account == engine.store.platform:
            raise invalid(FEE_WITHOUT_DESTINATION, "application_fee_amount", "parameter_missing")
        fields["application_fee_amount"] = fee
    return fields


def _payment_method(engine: Engine, ctx: Ctx, pm_id: str, customer: str | None) -> Obj:
    magic = MAGIC_PAYMENT_METHODS.get(pm_id)
    if magic is not None:
        last4 = DECLINES[magic.decline_code].last4 if magic.decline_code else "4242"
        pm = make_payment_method(engine, ctx, engine.now(), last4=last4)
        engine.store.extra(pm["id"])["default"] = magic.to_json()
        return pm
    pm = engine.store.require(pm_id, "payment_method", ctx.account, "payment_method")
    if customer and pm["customer"] not in (None, customer):
        raise invalid(
            f"The provided PaymentMethod belongs to another Customer ({pm['customer']}).",
            "payment_method",
        )
    return pm


def _outcome_for(engine: Engine, pm: Obj) -> Outcome:
    extra = engine.store.extra(pm["id"])
    extra["attempts"] = int(extra.get("attempts", 0)) + 1
    if not extra.get("script"):
        for model in OFF_SESSION_MODEL:
            drawn = model(engine, pm["id"], extra["attempts"])
            if drawn is not None:
                return drawn
    return next_outcome(engine, pm["id"])


@route("POST", "/v1/payment_intents")
def _create(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    reject_unknown(params, _CREATE)
    amount, currency = _amount(params)
    customer = str(params["customer"]) if params.get("customer") else None
    if customer:
        engine.store.require(customer, "customer", ctx.account, "customer")
    pm = None
    if params.get("payment_method"):
        pm = _payment_method(engine, ctx, str(params["payment_method"]), customer)
    confirm = as_bool(params.get("confirm", "false"), "confirm")
    off_session = params.get("off_session") not in (None, "", "false")
    if confirm and pm is None:
        raise missing("payment_method")
    pi = new_payment_intent(
        engine,
        ctx,
        engine.now(),
        amount=amount,
        currency=currency,
        customer=customer,
        metadata=update_metadata({}, params.get("metadata")),
        description=params.get("description") or None,
        setup_future_usage=params.get("setup_future_usage") or None,
        receipt_email=params.get("receipt_email") or None,
        transfer_group=params.get("transfer_group") or None,
        **_connect_fields(engine, ctx, params),
    )
    if pm is not None:
        pi["payment_method"] = pm["id"]
        pi["status"] = "requires_confirmation"
    if confirm and pm is not None:
        _confirm(engine, ctx, pi, pm, off_session)
    return pi


def _confirm(engine: Engine, ctx: Ctx, pi: Obj, pm: Obj, off_session: bool) -> None:
    now = engine.now()
    error = attempt(engine, ctx, pi, pm, _outcome_for(engine, pm), now)
    if error is not None:
        raise decline_error(pi, error)
    if pi["status"] == "succeeded":
        charge = engine.store.objects[pi["latest_charge"]]
        finish_success(engine, ctx, pi, charge, now)


@route("GET", "/v1/payment_intents/{id}")
def _retrieve(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "payment_intent", ctx.account, "intent")


@route("POST", "/v1/payment_intents/{id}")
def _update(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    reject_unknown(params, ("metadata", "description", "receipt_email"))
    pi = engine.store.require(id, "payment_intent", ctx.account, "intent")
    pi["metadata"] = update_metadata(pi["metadata"], params.get("metadata"))
    for key in ("description", "receipt_email"):
        if key in params:
            pi[key] = params[key] or None
    engine.store.dirty = True
    return pi


def _not_checkout(engine: Engine, pi: Obj) -> None:
    if engine.store.extra(pi["id"]).get("session"):
        raise invalid(_CHECKOUT_PI)


@route("POST", "/v1/payment_intents/{id}/confirm")
def _confirm_route(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    pi = engine.store.require(id, "payment_intent", ctx.account, "intent")
    _not_checkout(engine, pi)
    if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
        raise invalid(
            "This PaymentIntent's status is "
            f"{pi['status']}, but must be one of requires_payment_method, requires_confirmation.",
            code="payment_intent_unexpected_state",
        )
    pm_id = params.get("payment_method") or pi["payment_method"]
    if not pm_id:
        raise missing("payment_method")
    pm = _payment_method(engine, ctx, str(pm_id), pi["customer"])
    off_session = params.get("off_session") not in (None, "", "false")
    _confirm(engine, ctx, pi, pm, off_session)
    return pi


@route("POST", "/v1/payment_intents/{id}/cancel")
def _cancel(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    pi = engine.store.require(id, "payment_intent", ctx.account, "intent")
    _not_checkout(engine, pi)
    if pi["status"] in ("succeeded", "canceled", "processing"):
        raise invalid(
            "You cannot cancel this PaymentIntent because it has a status of "
            f"{pi['status']}. Only a PaymentIntent with one of the following statuses may be "
            "canceled: requires_payment_method, requires_capture, requires_confirmation, "
            "requires_action.",
            code="payment_intent_unexpected_state",
        )
    now = engine.now()
    reason = params.get("cancellation_reason") or "requested_by_customer"
    pi.update(status="canceled", canceled_at=now, cancellation_reason=reason)
    engine.store.dirty = True
    engine.emit("payment_intent.canceled", pi, now, ctx)
    return pi


@route("GET", "/v1/payment_intents")
def _list(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    in_range, customer = created_filter(params), params.get("customer")
    items = [
        p
        for p in engine.store.newest_first("payment_intent", ctx.account)
        if in_range(p) and (customer is None or p["customer"] == customer)
    ]
    return paginate(items, params, "/v1/payment_intents", engine.store.position)


@route("GET", "/v1/charges/{id}")
def _charge(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "charge", ctx.account, "charge")


@route("POST", "/v1/charges/{id}")
def _update_charge(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    reject_unknown(params, ("metadata", "description", "receipt_email"))
    charge = engine.store.require(id, "charge", ctx.account, "charge")
    charge["metadata"] = update_metadata(charge["metadata"], params.get("metadata"))
    engine.store.dirty = True
    return charge


@route("GET", "/v1/charges")
def _charges(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    in_range = created_filter(params)
    wanted = {k: params[k] for k in ("payment_intent", "customer", "transfer_group") if k in params}
    items = [
        c
        for c in engine.store.newest_first("charge", ctx.account)
        if in_range(c) and all(c.get(k) == v for k, v in wanted.items())
    ]
    return paginate(items, params, "/v1/charges", engine.store.position)
