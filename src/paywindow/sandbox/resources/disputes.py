"""Refunds (full, partial, ``reverse_transfer``, ``refund_application_fee``) and disputes.

Ledger effects (reference §3.6): a refund books ``refund`` ``-X`` on the platform; reversing
the transfer books ``transfer_refund`` (``transfer_reversal``) ``+R`` on the platform and
``payment_refund`` ``-R`` on the connected account; refunding the application fee books
``application_fee_refund`` (``platform_earning_refund``) ``-F`` on the platform. Proportional
shares round half up; the refund that completes the charge takes the exact remainder.
A dispute books ``adjustment``/``dispute`` ``-amount`` with the dispute fee; winning it books
``adjustment``/``dispute_reversal`` ``+amount`` with the fee refunded (negative fee).
"""

from __future__ import annotations

from typing import Any

from paywindow.sandbox.control import control
from paywindow.sandbox.engine import Ctx, Engine, route
from paywindow.sandbox.resources.balance import book, fee_detail
from paywindow.sandbox.wire import (
    Obj,
    StripeError,
    as_bool,
    as_int,
    created_filter,
    invalid,
    paginate,
    reject_unknown,
    update_metadata,
)
from paywindow.stripe_ids import new_id

__all__ = ["close_dispute", "open_dispute"]

_REFUND = [
    "charge",
    "payment_intent",
    "amount",
    "reason",
    "metadata",
    "reverse_transfer",
    "refund_application_fee",
    "instructions_email",
    "origin",
]


def _share(total: int, part: int, whole: int) -> int:
    return (2 * total * part + whole) // (2 * whole)


def _refund_charge(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    if params.get("charge"):
        return engine.store.require(str(params["charge"]), "charge", ctx.account, "charge")
    if params.get("payment_intent"):
        pi_id = str(params["payment_intent"])
        pi = engine.store.require(pi_id, "payment_intent", ctx.account, "payment_intent")
        if pi["status"] != "succeeded":
            raise invalid(
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                "payment_intent",
            )
        return engine.store.objects[pi["latest_charge"]]
    raise invalid(
        "One of the following params should be provided for this request: payment_intent or charge."
    )


def _refund_amount(charge: Obj, params: Obj) -> int:
    remaining = int(charge["amount"]) - int(charge["amount_refunded"])
    if charge["status"] != "succeeded":
        raise invalid(f"Charge {charge['id']} has not succeeded and cannot be refunded.")
    if remaining <= 0:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
        )
    amount = as_int(params["amount"], "amount") if params.get("amount") else remaining
    if amount <= 0 or amount > remaining:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Refund amount (${amount / 100:.2f}) is greater than unrefunded amount on charge "
            f"(${remaining / 100:.2f})",
            code="amount_too_large",
            param="amount",
        )
    return amount


@route("POST", "/v1/refunds")
def _create_refund(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    reject_unknown(params, _REFUND)
    charge = _refund_charge(engine, ctx, params)
    amount = _refund_amount(charge, params)
    reverse = as_bool(params.get("reverse_transfer", "false"), "reverse_transfer")
    refund_fee = as_bool(params.get("refund_application_fee", "false"), "refund_application_fee")
    reason = params.get("reason") or None
    if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
        raise invalid(f"Invalid reason: {reason}", "reason")
    at = engine.now()
    refund = _book_refund(engine, ctx, charge, amount, reason, params, at)
    final = int(charge["amount_refunded"]) == int(charge["amount"])
    if reverse and charge.get("transfer"):
        _reverse_transfer(engine, ctx, charge, refund, amount, final, at)
    fee_id = charge.get("application_fee")
    if refund_fee and fee_id:
        _refund_fee(engine, ctx, charge, engine.store.objects[fee_id], amount, final, at)
    engine.emit("charge.refunded", charge, at, ctx)
    engine.emit("refund.created", refund, at, ctx)
    return refund


def _book_refund(
    engine: Engine, ctx: Ctx, charge: Obj, amount: int, reason: Any, params: Obj, at: int
) -> Obj:
    refund_id = new_id("re")
    txn = book(
        engine,
        ctx.account,
        type_="refund",
        category="refund",
        amount=-amount,
        currency=charge["currency"],
        source=refund_id,
        at=at,
        description=f"REFUND FOR CHARGE ({charge['description'] or 'Payment'})",
        available_on=at,
    )
    refund: Obj = {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": txn["id"],
        "charge": charge["id"],
        "created": at,
        "currency": charge["currency"],
        "metadata": update_metadata({}, params.get("metadata")),
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    engine.store.add(refund, owner=ctx.account)
    charge["amount_refunded"] = int(charge["amount_refunded"]) + amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charge["refunds"]["data"].insert(0, refund)
    charge["refunds"]["total_count"] = len(charge["refunds"]["data"])
    return refund


def _reverse_transfer(
    engine: Engine, ctx: Ctx, charge: Obj, refund: Obj, amount: int, final: bool, at: int
) -> None:
    transfer = engine.store.objects[charge["transfer"]]
    left = int(transfer["amount"]) - int(transfer["amount_reversed"])
    share = left if final else min(left, _share(transfer["amount"], amount, charge["amount"]))
    if share <= 0:
        return
    reversal_id, currency = new_id("trr"), charge["currency"]
    txn = book(
        engine,
        ctx.account,
        type_="transfer_refund",
        category="transfer_reversal",
        amount=share,
        currency=currency,
        source=reversal_id,
        at=at,
        available_on=at,
    )
    payment_refund = new_id("pyr")
    book(
        engine,
        transfer["destination"],
        type_="payment_refund",
        category="refund",
        amount=-share,
        currency=currency,
        source=payment_refund,
        at=at,
        available_on=at,
    )
    reversal: Obj = {
        "id": reversal_id,
        "object": "transfer_reversal",
        "amount": share,
        "balance_transaction": txn["id"],
        "created": at,
        "currency": currency,
        "destination_payment_refund": payment_refund,
        "metadata": {},
        "source_refund": refund["id"],
        "transfer": transfer["id"],
    }
    engine.store.add(reversal, owner=ctx.account)
    transfer["amount_reversed"] = int(transfer["amount_reversed"]) + share
    transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
    transfer["reversals"]["data"].insert(0, reversal)
    refund["transfer_reversal"] = reversal_id
    engine.emit("transfer.reversed", transfer, at, ctx)


def _refund_fee(
    engine: Engine, ctx: Ctx, charge: Obj, fee: Obj, amount: int, final: bool, at: int
) -> None:
    left = int(fee["amount"]) - int(fee["amount_refunded"])
    share = left if final else min(left, _share(fee["amount"], amount, charge["amount"]))
    if share <= 0:
        return
    fee_refund_id, currency = new_id("fr"), charge["currency"]
    txn = book(
        engine,
        ctx.account,
        type_="application_fee_refund",
        category="platform_earning_refund",
        amount=-share,
        currency=currency,
        source=fee_refund_id,
        at=at,
        available_on=at,
    )
    book(
        engine,
        fee["account"],
        type_="application_fee_refund",
        category="fee",
        amount=share,
        currency=currency,
        source=fee_refund_id,
        at=at,
        available_on=at,
    )
    fee_refund: Obj = {
        "id": fee_refund_id,
        "object": "fee_refund",
        "amount": share,
        "balance_transaction": txn["id"],
        "created": at,
        "currency": currency,
        "fee": fee["id"],
        "metadata": {},
    }
    engine.store.add(fee_refund, owner=ctx.account)
    fee["amount_refunded"] = int(fee["amount_refunded"]) + share
    fee["refunded"] = fee["amount_refunded"] == fee["amount"]
    fee["refunds"]["data"].insert(0, fee_refund)
    engine.emit("application_fee.refunded", fee, at, ctx)


@route("GET", "/v1/refunds/{id}")
def _get_refund(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "refund", ctx.account, "refund")


@route("GET", "/v1/refunds")
def _list_refunds(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    in_range = created_filter(params)
    wanted = {k: params[k] for k in ("charge", "payment_intent") if k in params}
    items = [
        r
        for r in engine.store.newest_first("refund", ctx.account)
        if in_range(r) and all(r[k] == v for k, v in wanted.items())
    ]
    return paginate(items, params, "/v1/refunds", engine.store.position)


@route("GET", "/v1/charges/{id}/refunds")
def _charge_refunds(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    engine.store.require(id, "charge", ctx.account, "charge")
    page = _list_refunds(engine, ctx, {**params, "charge": id})
    page["url"] = f"/v1/charges/{id}/refunds"
    return page


def open_dispute(engine: Engine, charge_id: str, reason: str, amount: int | None, at: int) -> Obj:
    """Open a dispute on a succeeded charge and withdraw the funds plus the dispute fee."""
    charge = engine.store.require(charge_id, "charge", None, "charge")
    if charge["status"] != "succeeded" or charge["disputed"]:
        raise invalid(f"Charge {charge_id} cannot be disputed.", "charge")
    value = int(amount if amount is not None else charge["amount"] - charge["amount_refunded"])
    dispute_id, currency = new_id("dp"), charge["currency"]
    fee = engine.config.dispute_fee
    owner = engine.store.owner[charge_id]
    txn = book(
        engine,
        owner,
        type_="adjustment",
        category="dispute",
        amount=-value,
        currency=currency,
        source=dispute_id,
        at=at,
        available_on=at,
        fee_details=[fee_detail(fee, currency, "stripe_fee", "Dispute fee")],
        description=f"Chargeback withdrawal for {charge_id}",
    )
    dispute: Obj = {
        "id": dispute_id,
        "object": "dispute",
        "amount": value,
        "balance_transactions": [txn],
        "charge": charge_id,
        "created": at,
        "currency": currency,
        "evidence": {},
        "evidence_details": {
            "due_by": at + 7 * 86_400,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "status": "needs_response",
    }
    engine.store.add(dispute, owner=owner)
    charge["disputed"] = True
    engine.emit("charge.dispute.created", dispute, at, None)
    engine.emit("charge.dispute.funds_withdrawn", dispute, at, None)
    return dispute


def close_dispute(engine: Engine, dispute: Obj, won: bool, at: int) -> Obj:
    """Close a dispute as won (funds and fee reinstated) or lost."""
    if dispute["status"] in ("won", "lost"):
        raise invalid("This dispute is already closed.")
    if won:
        fee = engine.config.dispute_fee
        txn = book(
            engine,
            engine.store.owner[dispute["id"]],
            type_="adjustment",
            category="dispute_reversal",
            amount=dispute["amount"],
            currency=dispute["currency"],
            source=dispute["id"],
            at=at,
            available_on=at,
            fee_details=[fee_detail(-fee, dispute["currency"], "stripe_fee", "Dispute fee refund")],
            description=f"Chargeback reversal for {dispute['charge']}",
        )
        dispute["balance_transactions"].append(txn)
        engine.emit("charge.dispute.funds_reinstated", dispute, at, None)
    dispute["status"] = "won" if won else "lost"
    engine.store.dirty = True
    engine.emit("charge.dispute.closed", dispute, at, None)
    return dispute


@route("GET", "/v1/disputes/{id}")
def _get_dispute(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "dispute", ctx.account, "dispute")


@route("GET", "/v1/disputes")
def _list_disputes(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    in_range = created_filter(params)
    wanted = {k: params[k] for k in ("charge", "payment_intent") if k in params}
    items = [
        d
        for d in engine.store.newest_first("dispute", ctx.account)
        if in_range(d) and all(d[k] == v for k, v in wanted.items())
    ]
    return paginate(items, params, "/v1/disputes", engine.store.position)


@route("POST", "/v1/disputes/{id}/close")
def _accept(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    dispute = engine.store.require(id, "dispute", ctx.account, "dispute")
    return close_dispute(engine, dispute, False, engine.now())


@control("POST", "/_sandbox/disputes")
def _open(engine: Engine, _dispatcher: Any, ctx: Ctx, body: Obj) -> Obj:
    amount = body.get("amount")
    reason = str(body.get("reason") or "fraudulent")
    charge = str(body.get("charge") or "")
    return open_dispute(
        engine, charge, reason, None if amount is None else int(amount), engine.now()
    )


@control("POST", "/_sandbox/disputes/{id}/close")
def _close(engine: Engine, _dispatcher: Any, ctx: Ctx, body: Obj, id: str) -> Obj:
    dispute = engine.store.require(id, "dispute", None, "dispute")
    outcome = body.get("outcome", "won")
    if outcome not in ("won", "lost"):
        raise invalid("outcome must be won or lost", "outcome")
    return close_dispute(engine, dispute, outcome == "won", engine.now())
