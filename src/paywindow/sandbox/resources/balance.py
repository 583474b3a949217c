"""Balance transactions, balances and automatic daily payouts.

Invariants:

* every movement of money on an account is one balance transaction (BT) with
  ``net == amount - fee`` and a ``reporting_category``;
* ``available_on`` is a UTC midnight ``available_days`` after the movement; a BT turns
  ``available`` when the clock passes it;
* at each UTC midnight, for each account and currency, the available BTs not yet paid out
  are swept into one automatic payout whose own BT is ``-sum(net)``; listing BTs with
  ``payout=po_...`` returns the swept BTs plus the payout's BT, so they sum to zero.
"""

from __future__ import annotations

from typing import Any

from paywindow.sandbox.engine import DAY, Ctx, Engine, route, system_ctx, timer
from paywindow.sandbox.wire import Obj, coerce_list, created_filter, paginate
from paywindow.stripe_ids import new_id

__all__ = ["book", "midnight_after", "schedule_payouts"]

_LEDGER = "ledger"


def midnight_after(at: int, days: int) -> int:
    """The UTC midnight ``days`` calendar days after the day of ``at``."""
    return (at // DAY + days) * DAY


def book(
    engine: Engine,
    account: str,
    *,
    type_: str,
    category: str,
    amount: int,
    currency: str,
    source: str | None,
    at: int,
    fee_details: list[Obj] | None = None,
    description: str | None = None,
    available_on: int | None = None,
) -> Obj:
    """Book one balance transaction on ``account`` and schedule its availability."""
    details = fee_details or []
    fee = sum(int(d["amount"]) for d in details)
    available = midnight_after(at, engine.config.available_days)
    when = available if available_on is None else available_on
    txn: Obj = {
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": when,
        "balance_type": "payments",
        "created": at,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": details,
        "net": amount - fee,
        "reporting_category": category,
        "source": source,
        "status": "available" if when <= at else "pending",
        "type": type_,
    }
    engine.store.add(txn, owner=account)
    if txn["status"] == "pending":
        engine.store.schedule(when, "bt_available", txn["id"], priority=1)
    if type_ != "payout":
        engine.store.extra(_LEDGER).setdefault(account, []).append(txn["id"])
    return txn


def fee_detail(amount: int, currency: str, type_: str, description: str) -> Obj:
    """One entry of a BT's ``fee_details``."""
    return {
        "amount": amount,
        "application": "ca_sandbox" if type_ == "application_fee" else None,
        "currency": currency,
        "description": description,
        "type": type_,
    }


@timer("bt_available")
def _bt_available(engine: Engine, txn_id: str, due: int) -> None:
    txn = engine.store.objects.get(txn_id)
    if txn is not None:
        txn["status"] = "available"


def schedule_payouts(engine: Engine, now: int) -> None:
    """Start the daily payout schedule at the next UTC midnight (idempotent)."""
    flags = engine.store.extra("schedule")
    if engine.config.payouts and not flags.get("payouts"):
        flags["payouts"] = True
        engine.store.schedule(midnight_after(now, 1), "payout_run", "", priority=2)


@timer("payout_run")
def _payout_run(engine: Engine, _target: str, due: int) -> None:
    if not engine.config.payouts:
        engine.store.extra("schedule")["payouts"] = False
        return
    ledger: dict[str, list[str]] = engine.store.extra(_LEDGER)
    for account in list(ledger):
        _sweep(engine, account, ledger, due)
    next_due = max(due + DAY, midnight_after(engine.now() - 400 * DAY, 1))
    engine.store.schedule(next_due, "payout_run", "", priority=2)


def _sweep(engine: Engine, account: str, ledger: dict[str, list[str]], at: int) -> None:
    by_currency: dict[str, list[Obj]] = {}
    waiting: list[str] = []
    for txn_id in ledger[account]:
        txn = engine.store.objects.get(txn_id)
        if txn is None:
            continue
        if txn["available_on"] <= at:
            by_currency.setdefault(txn["currency"], []).append(txn)
        else:
            waiting.append(txn_id)
    ledger[account] = waiting
    for currency, txns in by_currency.items():
        total = sum(int(t["net"]) for t in txns)
        if total > 0:
            _create_payout(engine, account, currency, txns, total, at)
        else:
            waiting.extend(t["id"] for t in txns)


def _create_payout(
    engine: Engine, account: str, currency: str, txns: list[Obj], total: int, at: int
) -> None:
    payout: Obj = {
        "id": new_id("po"),
        "object": "payout",
        "amount": total,
        "arrival_date": midnight_after(at, engine.config.payout_arrival_days),
        "automatic": True,
        "balance_transaction": None,
        "created": at,
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "destination": "ba_sandbox",
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "reconciliation_status": "completed",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": "in_transit",
        "type": "bank_account",
    }
    engine.store.add(payout, owner=account)
    txn = book(
        engine,
        account,
        type_="payout",
        category="payout",
        amount=-total,
        currency=currency,
        source=payout["id"],
        at=at,
        description="STRIPE PAYOUT",
        available_on=at,
    )
    payout["balance_transaction"] = txn["id"]
    engine.store.extra(payout["id"])["txns"] = [t["id"] for t in txns] + [txn["id"]]
    for swept in txns:
        engine.store.extra(swept["id"])["payout"] = payout["id"]
    engine.store.extra(txn["id"])["payout"] = payout["id"]
    engine.emit("payout.created", payout, at, system_ctx(engine))
    engine.store.schedule(payout["arrival_date"], "payout_paid", payout["id"], priority=3)


@timer("payout_paid")
def _payout_paid(engine: Engine, payout_id: str, due: int) -> None:
    payout = engine.store.objects[payout_id]
    payout["status"] = "paid"
    engine.emit("payout.updated", payout, due, None, previous={"status": "in_transit"})
    engine.emit("payout.paid", payout, due, None)


def balance_of(engine: Engine, account: str, now: int) -> Obj:
    """The ``balance`` object: sums of BT nets, split by availability."""
    available: dict[str, int] = {}
    pending: dict[str, int] = {}
    for txn in engine.store.newest_first("balance_transaction", account):
        bucket = available if txn["available_on"] <= now else pending
        bucket[txn["currency"]] = bucket.get(txn["currency"], 0) + int(txn["net"])

    def entries(sums: dict[str, int]) -> list[Obj]:
        rows = sums or {"usd": 0}
        return [{"amount": v, "currency": c, "source_types": {"card": v}} for c, v in rows.items()]

    return {
        "object": "balance",
        "available": entries(available),
        "pending": entries(pending),
        "livemode": False,
    }


@route("GET", "/v1/balance")
def _get_balance(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    return balance_of(engine, ctx.account, engine.now())


def _txn_filter(engine: Engine, params: Obj) -> Any:
    in_range = created_filter(params)
    types = set(coerce_list(params.get("type")))
    source, currency = params.get("source"), params.get("currency")
    payout = params.get("payout")
    in_payout = set(engine.store.extra(payout).get("txns", [])) if payout else set()
    if payout:
        engine.store.require(str(payout), "payout", None, "payout")

    def keep(txn: Obj) -> bool:
        return (
            in_range(txn)
            and (not types or txn["type"] in types)
            and (source is None or txn["source"] == source)
            and (currency is None or txn["currency"] == currency)
            and (not payout or txn["id"] in in_payout)
        )

    return keep


@route("GET", "/v1/balance_transactions")
def _list_txns(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    keep = _txn_filter(engine, params)
    items = [t for t in engine.store.newest_first("balance_transaction", ctx.account) if keep(t)]
    url = "/v1/balance_transactions"
    return paginate(items, params, url, engine.store.position)


@route("GET", "/v1/balance_transactions/{id}")
def _get_txn(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "balance_transaction", ctx.account)


@route("GET", "/v1/balance/history")
def _history(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    page = _list_txns(engine, ctx, params)
    page["url"] = "/v1/balance/history"
    return page


@route("GET", "/v1/payouts")
def _list_payouts(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    in_range = created_filter(params)
    status = params.get("status")
    items = [
        p
        for p in engine.store.newest_first("payout", ctx.account)
        if in_range(p) and (status is None or p["status"] == status)
    ]
    return paginate(items, params, "/v1/payouts", engine.store.position)


@route("GET", "/v1/payouts/{id}")
def _get_payout(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "payout", ctx.account)
