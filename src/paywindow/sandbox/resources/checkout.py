"""Checkout Sessions (payment mode): create, retrieve, list, line items, expire, completion.

Invariants (reference §2):

* ``payment_intent`` is null until the buyer's first attempt; the PI then carries
  ``payment_intent_data.metadata`` and never the session's ``metadata``;
* ``url`` is set only while ``status == "open"``;
* a session expires by itself when the clock passes ``expires_at`` (timer), cancelling its PI,
  filling the recovery URL when enabled and emitting ``checkout.session.expired``;
* ``payment_intent_data`` is kept internally and never returned on the session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paywindow.sandbox.engine import DAY, Ctx, Engine, route, system_ctx, timer
from paywindow.sandbox.payments import ASYNC_RESULT
from paywindow.sandbox.resources.connect import require_destination
from paywindow.sandbox.wire import (
    Obj,
    StripeError,
    as_bool,
    as_int,
    created_filter,
    invalid,
    missing,
    no_such,
    paginate,
    reject_unknown,
    update_metadata,
)
from paywindow.stripe_ids import new_id

__all__ = ["SESSION_CREATED", "complete_session", "expire_session", "session_pi_data"]

# Called with each new session (the buyer population plans its attempts here).
SESSION_CREATED: list[Callable[[Engine, Obj], None]] = []

_KIND = "checkout.session"
_CREATE_PARAMS = [
    "mode",
    "line_items",
    "metadata",
    "client_reference_id",
    "customer",
    "customer_email",
    "customer_creation",
    "expires_at",
    "payment_intent_data",
    "success_url",
    "cancel_url",
    "return_url",
    "ui_mode",
    "after_expiration",
    "locale",
    "submit_type",
    "allow_promotion_codes",
    "billing_address_collection",
    "currency",
    "payment_method_types",
    "allowed_payment_method_types",
    "payment_method_collection",
    "phone_number_collection",
    "shipping_address_collection",
    "consent_collection",
    "custom_text",
    "invoice_creation",
    "automatic_tax",
    "tax_id_collection",
    "saved_payment_method_options",
    "payment_method_options",
    "discounts",
    "custom_fields",
]
_PI_DATA_PARAMS = [
    "application_fee_amount",
    "transfer_data",
    "metadata",
    "setup_future_usage",
    "description",
    "capture_method",
    "on_behalf_of",
    "receipt_email",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "transfer_group",
    "shipping",
]
FEE_WITHOUT_DESTINATION = (
    "Can only apply an application_fee_amount when the PaymentIntent is attempting a direct "
    "payment (using an OAuth key or Stripe-Account header) or destination payment (using "
    "`transfer_data[destination]`)."
)


def _line_item(engine: Engine, index: int, raw: Any, at: int) -> Obj:
    where = f"line_items[{index}]"
    if not isinstance(raw, dict):
        raise invalid("Invalid array", "line_items")
    if "quantity" not in raw:
        raise missing(f"{where}[quantity]")
    quantity = as_int(raw["quantity"], f"{where}[quantity]")
    if "price" in raw:
        raise no_such("price", str(raw["price"]), f"{where}[price]")
    data = raw.get("price_data")
    if not isinstance(data, dict):
        raise missing(f"{where}[price_data]")
    for key in ("currency", "unit_amount"):
        if not data.get(key):
            raise missing(f"{where}[price_data][{key}]")
    raw_product = data.get("product_data")
    product: Obj = raw_product if isinstance(raw_product, dict) else {}
    if not data.get("product") and not product.get("name"):
        raise missing(f"{where}[price_data][product_data][name]")
    unit = as_int(data["unit_amount"], f"{where}[price_data][unit_amount]")
    currency = str(data["currency"]).lower()
    price: Obj = {
        "id": new_id("price"),
        "object": "price",
        "active": False,
        "created": at,
        "currency": currency,
        "livemode": False,
        "metadata": {},
        "product": str(data.get("product") or new_id("prod", 14)),
        "type": "one_time",
        "unit_amount": unit,
    }
    return {
        "id": new_id("li"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": unit * quantity,
        "amount_tax": 0,
        "amount_total": unit * quantity,
        "currency": currency,
        "description": product.get("name"),
        "price": price,
        "quantity": quantity,
    }


def _expires_at(params: Obj, now: int) -> int:
    if "expires_at" not in params:
        return now + DAY
    expires_at = as_int(params["expires_at"], "expires_at")
    if expires_at < now + 30 * 60:
        raise invalid(
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
            "creation.",
            "expires_at",
        )
    if expires_at > now + DAY:
        raise invalid(
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            "expires_at",
        )
    return expires_at


def _pi_data(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    data = params.get("payment_intent_data") or {}
    if not isinstance(data, dict):
        raise invalid("Invalid hash", "payment_intent_data")
    for key in data:
        if key not in _PI_DATA_PARAMS:
            name = f"payment_intent_data[{key}]"
            raise StripeError(
                400,
                "invalid_request_error",
                f"Received unknown parameter: {name}",
                code="parameter_unknown",
                param=name,
            )
    result: Obj = {"metadata": update_metadata({}, data.get("metadata"))}
    transfer = data.get("transfer_data")
    if isinstance(transfer, dict):
        param = "payment_intent_data[transfer_data][destination]"
        if not transfer.get("destination"):
            raise missing(param)
        dest = require_destination(engine, transfer["destination"], param)
        amount = transfer.get("amount")
        fixed = as_int(amount, "payment_intent_data[transfer_data][amount]") if amount else None
        result["transfer_data"] = {"amount": fixed, "destination": dest}
    if data.get("application_fee_amount") not in (None, ""):
        param = "payment_intent_data[application_fee_amount]"
        fee = as_int(data["application_fee_amount"], param)
        if "transfer_data" not in result and ctx.account == engine.store.platform:
            raise invalid(FEE_WITHOUT_DESTINATION, param, code="parameter_missing")
        result["application_fee_amount"] = fee
    usage = data.get("setup_future_usage")
    if usage not in (None, "", "on_session", "off_session"):
        raise invalid(f"Invalid setup_future_usage: {usage}", "payment_intent_data")
    for key in ("setup_future_usage", "description", "capture_method", "receipt_email"):
        if data.get(key):
            result[key] = data[key]
    return result


def _customer(engine: Engine, ctx: Ctx, params: Obj) -> tuple[str | None, str | None]:
    customer, email = params.get("customer") or None, params.get("customer_email") or None
    if customer and email:
        raise invalid("You may only specify one of these parameters: customer, customer_email.")
    if customer:
        engine.store.require(str(customer), "customer", ctx.account, "customer")
    return customer, email


def _recovery(params: Obj) -> Obj | None:
    after = params.get("after_expiration")
    raw = after.get("recovery") if isinstance(after, dict) else None
    if not isinstance(raw, dict):
        return None
    if "enabled" not in raw:
        raise missing("after_expiration[recovery][enabled]")
    promo = as_bool(raw.get("allow_promotion_codes", "false"), "after_expiration[recovery]")
    return {
        "recovery": {
            "allow_promotion_codes": promo,
            "enabled": as_bool(raw["enabled"], "after_expiration[recovery][enabled]"),
            "expires_at": None,
            "url": None,
        }
    }


@route("POST", "/v1/checkout/sessions")
def _create(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    reject_unknown(params, _CREATE_PARAMS)
    now = engine.now()
    mode = params.get("mode") or "payment"
    if mode != "payment":
        raise invalid("The sandbox supports Checkout Sessions in `payment` mode only.", "mode")
    raw_items = params.get("line_items")
    if not raw_items:
        raise missing("line_items")
    items = [_line_item(engine, i, raw, now) for i, raw in enumerate(raw_items)]
    currencies = {item["currency"] for item in items}
    if len(currencies) > 1:
        raise invalid("All line items must have the same currency.", "line_items")
    reference = params.get("client_reference_id") or None
    if reference is not None and len(str(reference)) > 200:
        raise invalid("client_reference_id must be at most 200 characters.", "client_reference_id")
    customer, email = _customer(engine, ctx, params)
    expires_at = _expires_at(params, now)
    pi_data = _pi_data(engine, ctx, params)
    total = sum(int(item["amount_total"]) for item in items)
    session = _session_object(params, items, total, now, expires_at, ctx.host)
    session.update(
        client_reference_id=reference,
        customer=customer,
        customer_email=email,
        after_expiration=_recovery(params),
        metadata=update_metadata({}, params.get("metadata")),
    )
    internal = {"line_items": items, "pi_data": pi_data}
    engine.store.add(session, owner=ctx.account, internal=internal)
    engine.store.schedule(expires_at, "session_expire", session["id"])
    for hook in SESSION_CREATED:
        hook(engine, session)
    return session


def _session_object(
    params: Obj, items: list[Obj], total: int, now: int, expires_at: int, host: str
) -> Obj:
    session_id = new_id("cs_test", 58)
    return {
        "id": session_id,
        "object": _KIND,
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": total,
        "amount_total": total,
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": None,
        "client_secret": None,
        "created": now,
        "currency": items[0]["currency"],
        "customer": None,
        "customer_creation": params.get("customer_creation") or "if_required",
        "customer_details": None,
        "customer_email": None,
        "expires_at": expires_at,
        "invoice": None,
        "livemode": False,
        "locale": params.get("locale"),
        "metadata": {},
        "mode": "payment",
        "payment_intent": None,
        "payment_link": None,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "recovered_from": None,
        "setup_intent": None,
        "status": "open",
        "submit_type": params.get("submit_type"),
        "subscription": None,
        "success_url": params.get("success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": params.get("ui_mode") or "hosted_page",
        "url": f"http://{host}/c/pay/{session_id}",
    }


def session_pi_data(engine: Engine, session_id: str) -> Obj:
    """The ``payment_intent_data`` a session was created with (internal, never returned)."""
    data: Obj = engine.store.extra(session_id).get("pi_data", {})
    return data


@route("GET", "/v1/checkout/sessions/{id}")
def _retrieve(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, _KIND, ctx.account, "session")


@route("GET", "/v1/checkout/sessions")
def _list(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    in_range = created_filter(params)
    wanted = {k: params[k] for k in ("payment_intent", "status", "customer") if k in params}
    details = params.get("customer_details")
    email = details.get("email") if isinstance(details, dict) else None
    items = [
        s
        for s in engine.store.newest_first(_KIND, ctx.account)
        if in_range(s)
        and all(s[k] == v for k, v in wanted.items())
        and (email is None or (s["customer_details"] or {}).get("email") == email)
    ]
    return paginate(items, params, "/v1/checkout/sessions", engine.store.position)


@route("GET", "/v1/checkout/sessions/{id}/line_items")
def _line_items(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    engine.store.require(id, _KIND, ctx.account, "session")
    items = list(reversed(engine.store.extra(id).get("line_items", [])))
    ranks = {item["id"]: i for i, item in enumerate(reversed(items))}
    page = paginate(items, params, f"/v1/checkout/sessions/{id}/line_items", ranks.get)
    page["data"] = list(reversed(page["data"]))
    return page


@route("POST", "/v1/checkout/sessions/{id}/expire")
def _expire_now(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    session = engine.store.require(id, _KIND, ctx.account, "session")
    if session["status"] != "open":
        raise invalid(
            'Only Checkout Sessions with a status in ["open"] can be expired. '
            f"This Checkout Session has a status of `{session['status']}`."
        )
    expire_session(engine, ctx, session, engine.now())
    return session


@timer("session_expire")
def _expire_on_time(engine: Engine, session_id: str, due: int) -> None:
    session = engine.store.objects.get(session_id)
    if session is not None and session["status"] == "open":
        expire_session(engine, system_ctx(engine), session, due)


def expire_session(engine: Engine, ctx: Ctx, session: Obj, at: int) -> None:
    """Expire an open session: cancel its PI, fill recovery, emit ``checkout.session.expired``."""
    session.update(status="expired", url=None)
    recovery = (session.get("after_expiration") or {}).get("recovery")
    if recovery and recovery["enabled"]:
        recovery["url"] = f"http://{ctx.host}/r/{new_id('test', 32)}"
        recovery["expires_at"] = at + 30 * DAY
    pi = engine.store.objects.get(session["payment_intent"] or "")
    if pi is not None and pi["status"] not in ("succeeded", "canceled"):
        pi.update(status="canceled", canceled_at=at, cancellation_reason="abandoned")
        engine.emit("payment_intent.canceled", pi, at, ctx)
    engine.store.dirty = True
    engine.emit("checkout.session.expired", session, at, ctx)


def complete_session(engine: Engine, ctx: Ctx, session: Obj, pi: Obj, email: str, at: int) -> None:
    """Mark the session complete (paid unless the PI is still processing) and emit the event."""
    paid = pi["status"] == "succeeded"
    session.update(
        status="complete",
        payment_status="paid" if paid else "unpaid",
        url=None,
        payment_intent=pi["id"],
        customer=pi["customer"],
        customer_details={
            "address": None,
            "email": email,
            "name": None,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
    )
    engine.store.dirty = True
    engine.emit("checkout.session.completed", session, at, ctx)


def _async_result(engine: Engine, pi: Obj, charge: Obj, succeeded: bool, at: int) -> None:
    session = engine.store.objects.get(engine.store.extra(pi["id"]).get("session") or "")
    if session is None:
        return
    session["payment_status"] = "paid" if succeeded else "unpaid"
    kind = "succeeded" if succeeded else "failed"
    engine.emit(f"checkout.session.async_payment_{kind}", session, at, None)


ASYNC_RESULT.append(_async_result)
