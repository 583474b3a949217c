"""PaymentIntents and charges: creation, payment attempts, success, decline and async settlement.

Event order kept for one attempt:

* success: ``payment_intent.succeeded``, ``charge.succeeded`` (the caller then emits
  ``checkout.session.completed`` and books the destination transfer and application fee);
* decline: ``charge.failed``, ``payment_intent.payment_failed`` with the PI back in
  ``requires_payment_method`` and ``last_payment_error`` set;
* async: ``payment_intent.processing``, ``charge.pending``; settlement later on a timer.

Charges carry the PI's metadata; the PI carries ``payment_intent_data.metadata`` only.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from paywindow.sandbox.engine import Ctx, Engine, card_error, system_ctx, timer
from paywindow.sandbox.outcomes import Outcome, decline_fields, parse_outcome
from paywindow.sandbox.resources.balance import book, fee_detail
from paywindow.sandbox.resources.connect import settle_destination
from paywindow.sandbox.wire import Obj, list_object
from paywindow.stripe_ids import new_id

__all__ = [
    "ASYNC_RESULT",
    "attempt",
    "decline_error",
    "fail",
    "finish_success",
    "new_payment_intent",
    "succeed",
]

# Called when an async payment settles or fails: (engine, pi, charge, succeeded, at).
ASYNC_RESULT: list[Callable[[Engine, Obj, Obj, bool, int], None]] = []


def new_payment_intent(
    engine: Engine, ctx: Ctx, at: int, *, amount: int, currency: str, **fields: object
) -> Obj:
    """Create a PI in ``requires_payment_method`` and emit ``payment_intent.created``."""
    pi_id = new_id("pi")
    transfer_data = fields.get("transfer_data")
    group = fields.get("transfer_group") or (f"group_{pi_id}" if transfer_data else None)
    pi: Obj = {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "application": None,
        "application_fee_amount": fields.get("application_fee_amount"),
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": fields.get("capture_method") or "automatic_async",
        "client_secret": new_id(f"{pi_id}_secret", 25),
        "confirmation_method": "automatic",
        "created": at,
        "currency": currency,
        "customer": fields.get("customer"),
        "description": fields.get("description"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": dict(fields.get("metadata") or {}),  # type: ignore[call-overload]
        "next_action": None,
        "on_behalf_of": fields.get("on_behalf_of"),
        "payment_method": None,
        "payment_method_options": {},
        "payment_method_types": fields.get("payment_method_types") or ["card"],
        "processing": None,
        "receipt_email": fields.get("receipt_email"),
        "setup_future_usage": fields.get("setup_future_usage"),
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": fields.get("statement_descriptor_suffix"),
        "status": "requires_payment_method",
        "transfer_data": transfer_data,
        "transfer_group": group,
    }
    engine.store.add(pi, owner=ctx.account, internal={"session": fields.get("session")})
    engine.emit("payment_intent.created", pi, at, ctx)
    return pi


def _new_charge(engine: Engine, ctx: Ctx, pi: Obj, pm: Obj, at: int) -> Obj:
    charge_id = new_id("ch")
    details: Obj = {"type": pm["type"], pm["type"]: copy.deepcopy(pm.get(pm["type"]))}
    charge: Obj = {
        "id": charge_id,
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": pi["application_fee_amount"],
        "balance_transaction": None,
        "billing_details": copy.deepcopy(pm["billing_details"]),
        "calculated_statement_descriptor": "PAYWINDOW",
        "captured": False,
        "created": at,
        "currency": pi["currency"],
        "customer": pi["customer"],
        "description": pi["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(pi["metadata"]),
        "on_behalf_of": pi["on_behalf_of"],
        "outcome": None,
        "paid": False,
        "payment_intent": pi["id"],
        "payment_method": pm["id"],
        "payment_method_details": details,
        "receipt_email": pi["receipt_email"],
        "receipt_number": None,
        "receipt_url": f"http://{ctx.host}/receipts/{charge_id}",
        "refunded": False,
        "refunds": list_object([], False, f"/v1/charges/{charge_id}/refunds"),
        "review": None,
        "source_transfer": None,
        "status": "pending",
        "transfer": None,
        "transfer_data": pi["transfer_data"],
        "transfer_group": pi["transfer_group"],
    }
    return engine.store.add(charge, owner=engine.store.owner[pi["id"]])


def attempt(engine: Engine, ctx: Ctx, pi: Obj, pm: Obj, outcome: Outcome, at: int) -> Obj | None:
    """Charge ``pm`` for ``pi``; returns the ``last_payment_error`` of a decline, else None.

    On a synchronous success the caller must call ``finish_success`` after any events of its
    own (``checkout.session.completed``), so fee and transfer events follow them.
    """
    charge = _new_charge(engine, ctx, pi, pm, at)
    pi["latest_charge"] = charge["id"]
    pi["payment_method"] = pm["id"]
    pi["last_payment_error"] = None
    if outcome.kind == "decline":
        return fail(engine, ctx, pi, charge, outcome, at)
    if outcome.async_ is not None:
        _start_processing(engine, ctx, pi, charge, outcome, at)
        return None
    succeed(engine, ctx, pi, charge, at)
    return None


def finish_success(engine: Engine, ctx: Ctx, pi: Obj, charge: Obj, at: int) -> None:
    """Book the destination transfer and fee, and save the card when asked to."""
    settle_destination(engine, ctx, charge, pi, at)
    pm = engine.store.objects.get(str(charge["payment_method"]))
    if pm is not None and pi["setup_future_usage"] and pi["customer"] and not pm["customer"]:
        pm["customer"] = pi["customer"]
        engine.emit("payment_method.attached", pm, at, ctx)


def _outcome_block(decline: object, advice: str | None, reason: str | None) -> Obj:
    declined = decline is not None
    return {
        "advice_code": advice,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "declined_by_network" if declined else "approved_by_network",
        "reason": reason,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": (
            f"The bank returned the decline code `{reason}`." if declined else "Payment complete."
        ),
        "type": "issuer_declined" if declined else "authorized",
    }


def fail(engine: Engine, ctx: Ctx, pi: Obj, charge: Obj, outcome: Outcome, at: int) -> Obj:
    """Decline the attempt: charge failed, PI back to ``requires_payment_method``."""
    decline = decline_fields(outcome)
    pm = engine.store.objects[charge["payment_method"]]
    engine.store.extra(pm["id"])["last_decline_code"] = decline.decline_code
    charge.update(
        status="failed",
        failure_code=decline.code,
        failure_message=decline.message,
        outcome=_outcome_block(decline, decline.advice_code, decline.decline_code),
    )
    error: Obj = {
        "advice_code": decline.advice_code,
        "charge": charge["id"],
        "code": decline.code,
        "decline_code": decline.decline_code,
        "doc_url": "https://stripe.com/docs/error-codes/" + decline.code.replace("_", "-"),
        "message": decline.message,
        "network_advice_code": None,
        "network_decline_code": None,
        "param": decline.param,
        "payment_method": copy.deepcopy(pm),
        "type": "card_error",
    }
    pi.update(status="requires_payment_method", last_payment_error=error, payment_method=None)
    engine.store.dirty = True
    engine.emit("charge.failed", charge, at, ctx)
    engine.emit("payment_intent.payment_failed", pi, at, ctx)
    return error


def decline_error(pi: Obj, error: Obj) -> Exception:
    """The 402 ``card_error`` an API confirmation answers with for a declined attempt."""
    fields = {k: v for k, v in error.items() if v is not None}
    fields["payment_intent"] = copy.deepcopy(pi)
    return card_error(402, fields)


def succeed(engine: Engine, ctx: Ctx, pi: Obj, charge: Obj, at: int) -> None:
    """Capture: book the charge BT and mark charge and PI succeeded (events in that order)."""
    amount, currency = int(charge["amount"]), charge["currency"]
    fee = engine.stripe_fee(amount, currency)
    is_card = charge["payment_method_details"]["type"] == "card"
    txn = book(
        engine,
        engine.store.owner[charge["id"]],
        type_="charge" if is_card else "payment",
        category="charge",
        amount=amount,
        currency=currency,
        source=charge["id"],
        at=at,
        fee_details=[fee_detail(fee, currency, "stripe_fee", "Stripe processing fees")],
    )
    charge.update(
        status="succeeded",
        paid=True,
        captured=True,
        amount_captured=amount,
        balance_transaction=txn["id"],
        outcome=_outcome_block(None, None, None),
    )
    pi.update(status="succeeded", amount_received=amount, payment_method=charge["payment_method"])
    engine.store.dirty = True
    engine.emit("payment_intent.succeeded", pi, at, ctx)
    engine.emit("charge.succeeded", charge, at, ctx)


def _start_processing(
    engine: Engine, ctx: Ctx, pi: Obj, charge: Obj, outcome: Outcome, at: int
) -> None:
    pi["status"] = "processing"
    engine.store.extra(charge["id"])["async"] = outcome.to_json()
    engine.store.schedule(at + outcome.settle_after, "async_settle", charge["id"])
    engine.emit("payment_intent.processing", pi, at, ctx)
    engine.emit("charge.pending", charge, at, ctx)


@timer("async_settle")
def _async_settle(engine: Engine, charge_id: str, due: int) -> None:
    charge = engine.store.objects[charge_id]
    pi = engine.store.objects[charge["payment_intent"]]
    outcome = parse_outcome(engine.store.extra(charge_id)["async"])
    ctx = system_ctx(engine)
    if outcome.async_ == "fail":
        failed = Outcome("decline", outcome.decline_code or "insufficient_funds")
        fail(engine, ctx, pi, charge, failed, due)
    else:
        succeed(engine, ctx, pi, charge, due)
    for hook in ASYNC_RESULT:
        hook(engine, pi, charge, outcome.async_ != "fail", due)
    if outcome.async_ != "fail":
        finish_success(engine, ctx, pi, charge, due)
