"""Connect: Express accounts, destination transfers and application fees.

A destination charge of ``A`` with application fee ``F`` books, on the platform: the charge BT
(``A - stripe_fee``), a transfer BT ``-A`` and an application-fee BT ``+F``
(``platform_earning``); on the connected account: a ``py_`` payment BT of ``A`` with fee ``F``.
With ``transfer_data[amount]`` only that amount is transferred and no application fee exists.
"""

from __future__ import annotations

from paywindow.sandbox.engine import Ctx, Engine, route
from paywindow.sandbox.resources.balance import book, fee_detail
from paywindow.sandbox.wire import (
    Obj,
    StripeError,
    created_filter,
    invalid,
    list_object,
    paginate,
    reject_unknown,
    update_metadata,
)
from paywindow.stripe_ids import new_id

__all__ = ["require_destination", "settle_destination"]

_ACCOUNT_PARAMS = (
    "type",
    "country",
    "email",
    "business_type",
    "capabilities",
    "metadata",
    "default_currency",
    "business_profile",
    "controller",
    "tos_acceptance",
)


def require_destination(engine: Engine, account_id: object, param: str) -> str:
    """The id of an existing connected account, or Stripe's ``No such destination`` error."""
    acct = str(account_id or "")
    if engine.store.get(acct, "account") is None:
        message = f"No such destination: '{acct}'"
        raise StripeError(
            400, "invalid_request_error", message, code="resource_missing", param=param
        )
    return acct


def _account(params: Obj, at: int) -> Obj:
    kind = str(params.get("type") or "express")
    if kind not in ("express", "standard", "custom"):
        raise invalid("Invalid type: must be one of custom, express, or standard", "type")
    return {
        "id": new_id("acct", 16),
        "object": "account",
        "business_profile": {"name": None, "url": None, "mcc": None},
        "business_type": params.get("business_type") or None,
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "application", "is_controller": True},
        "country": str(params.get("country") or "US"),
        "created": at,
        "default_currency": str(params.get("default_currency") or "usd"),
        "details_submitted": True,
        "email": params.get("email") or None,
        "metadata": update_metadata({}, params.get("metadata")),
        "payouts_enabled": True,
        "requirements": {"currently_due": [], "eventually_due": [], "past_due": []},
        "settings": {"payouts": {"schedule": {"interval": "daily", "delay_days": 2}}},
        "type": kind,
    }


@route("POST", "/v1/accounts")
def _create_account(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    reject_unknown(params, _ACCOUNT_PARAMS)
    account = engine.store.add(_account(params, engine.now()))
    return account


@route("GET", "/v1/accounts/{id}")
def _get_account(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "account", None, "account")


@route("POST", "/v1/accounts/{id}")
def _update_account(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    account = engine.store.require(id, "account", None, "account")
    account["metadata"] = update_metadata(account["metadata"], params.get("metadata"))
    if "email" in params:
        account["email"] = params["email"] or None
    engine.store.dirty = True
    return account


@route("GET", "/v1/accounts")
def _list_accounts(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    in_range = created_filter(params)
    items = [a for a in engine.store.newest_first("account", None) if in_range(a)]
    return paginate(items, params, "/v1/accounts", engine.store.position)


@route("GET", "/v1/account")
def _platform(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    account = engine.store.get(ctx.account, "account")
    if account is not None:
        return account
    return {**_account({"email": "platform@paywindow.test"}, 0), "id": ctx.account}


@route("POST", "/v1/account_links")
def _account_link(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    acct = require_destination(engine, params.get("account"), "account")
    now = engine.now()
    return {
        "object": "account_link",
        "created": now,
        "expires_at": now + 300,
        "url": f"http://{ctx.host}/connect/onboarding/{acct}",
    }


def settle_destination(engine: Engine, ctx: Ctx, charge: Obj, pi: Obj, at: int) -> None:
    """Book the transfer and application fee of a succeeded destination charge, with events."""
    transfer_data = pi.get("transfer_data")
    if not transfer_data:
        return
    dest = transfer_data["destination"]
    fixed_amount = transfer_data.get("amount")
    amount = int(fixed_amount) if fixed_amount is not None else int(charge["amount"])
    fee_amount = pi.get("application_fee_amount") if fixed_amount is None else None
    transfer = _transfer(engine, charge, dest, amount, at)
    payment = _connected_payment(engine, charge, transfer, dest, fee_amount, at)
    transfer["destination_payment"] = payment["id"]
    charge["transfer"] = transfer["id"]
    if fee_amount:
        fee = _application_fee(engine, charge, payment, dest, int(fee_amount), at)
        charge["application_fee"] = fee["id"]
        engine.emit("application_fee.created", fee, at, ctx)
    engine.emit("transfer.created", transfer, at, ctx)


def _transfer(engine: Engine, charge: Obj, dest: str, amount: int, at: int) -> Obj:
    transfer_id = new_id("tr")
    txn = book(
        engine,
        engine.store.platform,
        type_="transfer",
        category="transfer",
        amount=-amount,
        currency=charge["currency"],
        source=transfer_id,
        at=at,
        available_on=engine.store.objects[charge["balance_transaction"]]["available_on"],
    )
    transfer: Obj = {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": txn["id"],
        "created": at,
        "currency": charge["currency"],
        "description": None,
        "destination": dest,
        "destination_payment": None,
        "livemode": False,
        "metadata": {},
        "reversals": list_object([], False, f"/v1/transfers/{transfer_id}/reversals"),
        "reversed": False,
        "source_transaction": charge["id"],
        "source_type": "card",
        "transfer_group": charge.get("transfer_group"),
    }
    return engine.store.add(transfer)


def _connected_payment(
    engine: Engine, charge: Obj, transfer: Obj, dest: str, fee: object, at: int
) -> Obj:
    payment_id = new_id("py")
    currency = charge["currency"]
    details = []
    if fee:
        details = [fee_detail(int(str(fee)), currency, "application_fee", "Application fee")]
    txn = book(
        engine,
        dest,
        type_="payment",
        category="charge",
        amount=transfer["amount"],
        currency=currency,
        source=payment_id,
        at=at,
        fee_details=details,
    )
    payment: Obj = {
        "id": payment_id,
        "object": "charge",
        "amount": transfer["amount"],
        "amount_captured": transfer["amount"],
        "amount_refunded": 0,
        "application_fee": None,
        "balance_transaction": txn["id"],
        "captured": True,
        "created": at,
        "currency": currency,
        "livemode": False,
        "metadata": {},
        "paid": True,
        "refunded": False,
        "source_transfer": transfer["id"],
        "status": "succeeded",
    }
    return engine.store.add(payment, owner=dest)


def _application_fee(
    engine: Engine, charge: Obj, payment: Obj, dest: str, amount: int, at: int
) -> Obj:
    fee_id = new_id("fee")
    email = (engine.store.get(dest, "account") or {}).get("email") or "unknown"
    txn = book(
        engine,
        engine.store.platform,
        type_="application_fee",
        category="platform_earning",
        amount=amount,
        currency=charge["currency"],
        source=fee_id,
        at=at,
        description=f"Application fee from application paywindow-sandbox for {email} ({dest})",
    )
    fee: Obj = {
        "id": fee_id,
        "object": "application_fee",
        "account": dest,
        "amount": amount,
        "amount_refunded": 0,
        "application": "ca_sandbox",
        "balance_transaction": txn["id"],
        "charge": payment["id"],
        "created": at,
        "currency": charge["currency"],
        "fee_source": {"charge": payment["id"], "type": "charge"},
        "livemode": False,
        "originating_transaction": charge["id"],
        "refunded": False,
        "refunds": list_object([], False, f"/v1/application_fees/{fee_id}/refunds"),
    }
    return engine.store.add(fee)


@route("GET", "/v1/transfers")
def _list_transfers(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    in_range = created_filter(params)
    dest, group = params.get("destination"), params.get("transfer_group")
    items = [
        t
        for t in engine.store.newest_first("transfer", ctx.account)
        if in_range(t)
        and (dest is None or t["destination"] == dest)
        and (group is None or t["transfer_group"] == group)
    ]
    return paginate(items, params, "/v1/transfers", engine.store.position)


@route("GET", "/v1/transfers/{id}")
def _get_transfer(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "transfer", ctx.account)


@route("GET", "/v1/application_fees")
def _list_fees(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    in_range, charge = created_filter(params), params.get("charge")
    items = [
        f
        for f in engine.store.newest_first("application_fee", ctx.account)
        if in_range(f) and (charge is None or charge in (f["charge"], f["originating_transaction"]))
    ]
    return paginate(items, params, "/v1/application_fees", engine.store.position)


@route("GET", "/v1/application_fees/{id}")
def _get_fee(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "application_fee", ctx.account)
