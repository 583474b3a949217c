"""Buyers paying Checkout Sessions: one attempt with a chosen outcome.

``pay_session`` is what the hosted page would do when a buyer submits a card. It produces the
objects and events Stripe would, in Stripe's order:

* first attempt creates the PI from ``payment_intent_data`` (``payment_intent.created``);
* success: ``payment_intent.succeeded``, ``charge.succeeded``, ``checkout.session.completed``,
  then ``application_fee.created`` and ``transfer.created`` for destination charges;
* decline: ``charge.failed``, ``payment_intent.payment_failed``; the session stays open and the
  buyer may try again on the same PI;
* async: ``payment_intent.processing``, ``charge.pending``, ``checkout.session.completed``
  (``payment_status: unpaid``); later ``checkout.session.async_payment_succeeded`` or
  ``..._failed`` when the clock passes the settlement time.
"""

from __future__ import annotations

from typing import Any

from paywindow.sandbox.engine import Ctx, Engine
from paywindow.sandbox.outcomes import DECLINES, Outcome, parse_outcome
from paywindow.sandbox.payments import attempt, finish_success, new_payment_intent
from paywindow.sandbox.resources.checkout import complete_session, session_pi_data
from paywindow.sandbox.resources.customers import (
    create_customer,
    make_payment_method,
    script_outcomes,
)
from paywindow.sandbox.wire import Obj, invalid

__all__ = ["pay_session"]


def _session_pi(engine: Engine, ctx: Ctx, session: Obj, at: int) -> Obj:
    existing = session["payment_intent"]
    if existing:
        pi: Obj = engine.store.objects[existing]
        return pi
    data = session_pi_data(engine, session["id"])
    pi = new_payment_intent(
        engine,
        ctx,
        at,
        amount=int(session["amount_total"]),
        currency=session["currency"],
        customer=session["customer"],
        metadata=data.get("metadata"),
        description=data.get("description"),
        application_fee_amount=data.get("application_fee_amount"),
        transfer_data=data.get("transfer_data"),
        setup_future_usage=data.get("setup_future_usage"),
        receipt_email=data.get("receipt_email"),
        session=session["id"],
    )
    session["payment_intent"] = pi["id"]
    return pi


def _save_card(engine: Engine, ctx: Ctx, session: Obj, pi: Obj, email: str, at: int) -> None:
    if not pi["customer"]:
        customer = create_customer(engine, ctx, {"email": email}, at)
        pi["customer"] = customer["id"]
        session["customer"] = customer["id"]
    pi["setup_future_usage"] = pi["setup_future_usage"] or "off_session"


def _buyer_pm(engine: Engine, ctx: Ctx, outcome: Outcome, email: str, at: int) -> Obj:
    if outcome.async_ is not None:
        return make_payment_method(
            engine, ctx, at, last4="6789", kind="us_bank_account", email=email
        )
    last4 = DECLINES[outcome.decline_code].last4 if outcome.decline_code else "4242"
    return make_payment_method(engine, ctx, at, last4=last4, email=email)


def pay_session(
    engine: Engine, ctx: Ctx, session_id: str, body: dict[str, Any], at: int | None = None
) -> Obj:
    """One buyer attempt on an open session (at ``at``, default now); returns what it made."""
    session = engine.store.require(session_id, "checkout.session", None, "session")
    if session["status"] != "open":
        raise invalid(
            'Only Checkout Sessions with a status in ["open"] can be paid. '
            f"This Checkout Session has a status of `{session['status']}`."
        )
    outcome = parse_outcome(body)
    at = engine.now() if at is None else at
    ctx = Ctx(engine.store.owner[session_id], ctx.request_id, ctx.idempotency_key, ctx.host)
    email = str(body.get("email") or session["customer_email"] or "buyer@example.com")
    pi = _session_pi(engine, ctx, session, at)
    if body.get("save_payment_method") or pi["setup_future_usage"]:
        _save_card(engine, ctx, session, pi, email, at)
    pm = _buyer_pm(engine, ctx, outcome, email, at)
    later = [parse_outcome(o) for o in body.get("off_session_outcomes") or []]
    default = parse_outcome(body.get("off_session_default") or {"outcome": "success"})
    script_outcomes(engine, pm["id"], later, default)
    error = attempt(engine, ctx, pi, pm, outcome, at)
    charge = engine.store.objects[pi["latest_charge"]]
    if error is None:
        complete_session(engine, ctx, session, pi, email, at)
        if pi["status"] == "succeeded":
            finish_success(engine, ctx, pi, charge, at)
    engine.store.dirty = True
    return {
        "session": session,
        "payment_intent": pi,
        "charge": charge,
        "payment_method": pm,
        "error": error,
    }
