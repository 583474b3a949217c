"""Synthetic ledger and local rows for the reconciliation benchmark, written as Parquet.

For ``n`` balance transactions: ~94 % charges (each with an order here), ~5 % refunds, the rest
payouts sweeping every charge and refund BT. A fraction ``perturb`` of the rows is disturbed,
spread over the finding kinds (amounts, fees, currencies, missing on either side, duplicates,
payout lines).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from paywindow.reconcile.ledger import SCHEMAS
from paywindow.reconcile.snapshot import ORDER_SCHEMA

START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30


def _ts(seconds: np.ndarray) -> pa.Array:
    micros = (int(START.timestamp()) + seconds).astype("int64") * 1_000_000
    return pa.array(micros, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _ids(prefix: str, n: int, offset: int = 0) -> pa.Array:
    return pa.array([f"{prefix}{i:09d}" for i in range(offset, offset + n)])


def generate(n: int, out: Path, *, perturb: float = 0.01, seed: int = 7) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    n_payouts = max(n // 2000, 1)
    n_refunds = n // 20
    n_charges = n - n_refunds - n_payouts
    created = np.sort(rng.integers(0, DAYS * 86400, n_charges))
    amount = rng.choice([1500, 2500, 4200, 9900, 18000], n_charges)
    fee = amount // 10
    currency = rng.choice(["usd", "eur", "jpy"], n_charges, p=[0.7, 0.2, 0.1])
    k = max(int(n_charges * perturb / 6), 1)
    picks = rng.choice(n_charges, 6 * k, replace=False).reshape(6, k)
    local_amount, local_fee = amount.copy(), fee.copy()
    local_amount[picks[0]] += 500  # amount_under
    local_fee[picks[1]] += 100  # fee_mismatch
    local_currency = currency.copy()
    local_currency[picks[2]] = "gbp"  # currency_mismatch
    has_charge = np.ones(n_charges, bool)
    has_charge[picks[3]] = False  # missing_in_stripe
    paid_here = np.ones(n_charges, bool)
    paid_here[picks[4]] = False  # missing_locally
    order_of_charge = np.arange(n_charges)
    order_of_charge[picks[5]] = (picks[5] + 1) % n_charges  # duplicate_charge (another order's)

    order_ids = _ids("ord_", n_charges)
    paid_at = _ts(created)
    paid = pa.array(paid_here)
    orders = pa.table(
        {
            "id": order_ids,
            "state": pa.array(np.where(paid_here, "paid", "awaiting_payment")),
            "currency": pa.array(local_currency),
            "amount_total": pa.array(local_amount),
            "application_fee_amount": pa.array(local_fee),
            "seller_account": pa.array(["acct_seller"] * n_charges),
            "deadline": _ts(created + 86400),
            "paid_at": pa.compute.if_else(paid, paid_at, pa.scalar(None, paid_at.type)),
            "payment_intent": _ids("pi_", n_charges),
            "charge": _ids("ch_", n_charges),
            "amount_charged": pa.array(amount),
            "amount_refunded": pa.array(np.zeros(n_charges, "int64")),
            "dispute": pa.nulls(n_charges, pa.string()),
            "dispute_status": pa.array(["none"] * n_charges),
            "created_at": _ts(created - 60),
        },
        schema=ORDER_SCHEMA,
    )
    keep = np.flatnonzero(has_charge)
    charge_ids = _ids("ch_", n_charges)
    now = pa.scalar(START, pa.timestamp("us", tz="UTC"))
    charges = pa.table(
        {
            "id": charge_ids,
            "created": _ts(created),
            "amount": pa.array(amount),
            "amount_refunded": pa.array(np.zeros(n_charges, "int64")),
            "currency": pa.array(currency),
            "status": pa.array(["succeeded"] * n_charges),
            "refunded": pa.array(np.zeros(n_charges, bool)),
            "disputed": pa.array(np.zeros(n_charges, bool)),
            "payment_intent": _ids("pi_", n_charges),
            "balance_transaction": _ids("txn_c", n_charges),
            "application_fee": _ids("fee_", n_charges),
            "application_fee_amount": pa.array(fee),
            "destination": pa.array(["acct_seller"] * n_charges),
            "transfer": _ids("tr_", n_charges),
            "order_id": pa.array(order_ids.to_numpy(zero_copy_only=False)[order_of_charge]),
            "attempt": pa.array(["1"] * n_charges),
            "synced_at": pa.array([START] * n_charges, pa.timestamp("us", tz="UTC")),
        },
        schema=SCHEMAS["charges"],
    ).take(pa.array(keep))
    # refunds: the local side knows of them (amount_refunded), except for a few
    refunded = rng.choice(keep, n_refunds, replace=False)
    r_amount = amount[refunded] // 2
    local_refunded = np.zeros(n_charges, "int64")
    local_refunded[refunded] = r_amount
    local_refunded[refunded[: max(k // 2, 1)]] = 0  # status_mismatch
    orders = orders.set_column(
        orders.schema.get_field_index("amount_refunded"),
        "amount_refunded",
        pa.array(local_refunded),
    )
    r_created = created[refunded] + 3600
    refunds = pa.table(
        {
            "id": _ids("re_", n_refunds),
            "created": _ts(r_created),
            "amount": pa.array(r_amount),
            "currency": pa.array(currency[refunded]),
            "charge": pa.array(charge_ids.to_numpy(zero_copy_only=False)[refunded]),
            "payment_intent": pa.nulls(n_refunds, pa.string()),
            "status": pa.array(["succeeded"] * n_refunds),
            "reason": pa.nulls(n_refunds, pa.string()),
            "balance_transaction": _ids("txn_r", n_refunds),
            "synced_at": pa.array([START] * n_refunds, pa.timestamp("us", tz="UTC")),
        },
        schema=SCHEMAS["refunds"],
    )
    stripe_fee = (amount * 29 + 500) // 1000 + 30
    bt_ids = pa.concat_arrays(
        [charge_ids.take(pa.array(keep)).cast(pa.string()), _ids("re_", n_refunds)]
    )
    bt_ids = pa.concat_arrays(
        [pa.array(["txn_c" + s[3:] for s in bt_ids[: len(keep)].to_pylist()]),
         _ids("txn_r", n_refunds)]
    )  # fmt: skip
    bt_amount = np.concatenate([amount[keep], -r_amount])
    bt_fee = np.concatenate([stripe_fee[keep], np.zeros(n_refunds, "int64")])
    bt_created = np.concatenate([created[keep], r_created])
    bt_currency = np.concatenate([currency[keep], currency[refunded]])
    bt_type = np.concatenate([["charge"] * len(keep), ["refund"] * n_refunds])
    # payouts: BTs grouped by currency and payout bucket
    bucket = (bt_created * n_payouts // (DAYS * 86400 + 3600)).astype("int64")
    key = np.char.add(np.char.add(bucket.astype(str), ":"), bt_currency.astype(str))
    uniq, inverse = np.unique(key, return_inverse=True)
    net = bt_amount - bt_fee
    po_amount = np.bincount(inverse, weights=net).astype("int64")
    po_ids = np.array([f"po_{i:09d}" for i in range(len(uniq))])
    po_created = (
        np.array([int(u.split(":")[0]) for u in uniq]) * (DAYS * 86400 // n_payouts) + 2 * 86400
    )
    po_currency = np.array([u.split(":")[1] for u in uniq])
    po_amount_seen = po_amount.copy()
    po_amount_seen[: max(k // 6, 1)] += 77  # payout_unexplained
    n_po = len(uniq)
    bts = pa.table(
        {
            "id": pa.concat_arrays([bt_ids, _ids("txn_p", n_po)]),
            "created": _ts(np.concatenate([bt_created, po_created])),
            "available_on": _ts(np.concatenate([bt_created + 2 * 86400, po_created])),
            "amount": pa.array(np.concatenate([bt_amount, -po_amount_seen])),
            "fee": pa.array(np.concatenate([bt_fee, np.zeros(n_po, "int64")])),
            "net": pa.array(np.concatenate([net, -po_amount_seen])),
            "stripe_fee": pa.array(np.concatenate([bt_fee, np.zeros(n_po, "int64")])),
            "currency": pa.array(np.concatenate([bt_currency, po_currency])),
            "type": pa.array(np.concatenate([bt_type, ["payout"] * n_po])),
            "reporting_category": pa.array(np.concatenate([bt_type, ["payout"] * n_po])),
            "source": pa.nulls(len(bt_ids) + n_po, pa.string()),
            "status": pa.array(["available"] * (len(bt_ids) + n_po)),
            "description": pa.nulls(len(bt_ids) + n_po, pa.string()),
            "synced_at": pa.array([START] * (len(bt_ids) + n_po), pa.timestamp("us", tz="UTC")),
        },
        schema=SCHEMAS["balance_transactions"],
    )
    payouts = pa.table(
        {
            "id": pa.array(po_ids),
            "created": _ts(po_created),
            "arrival_date": _ts(po_created + 86400),
            "amount": pa.array(po_amount_seen),
            "currency": pa.array(po_currency),
            "status": pa.array(["paid"] * n_po),
            "automatic": pa.array([True] * n_po),
            "balance_transaction": _ids("txn_p", n_po),
            "synced_at": pa.array([START] * n_po, pa.timestamp("us", tz="UTC")),
        },
        schema=SCHEMAS["payouts"],
    )
    items = pa.table(
        {
            "id": bt_ids,
            "created": _ts(po_created[inverse]),
            "payout": pa.array(po_ids[inverse]),
            "balance_transaction": bt_ids,
            "synced_at": pa.array([START] * len(bt_ids), pa.timestamp("us", tz="UTC")),
        },
        schema=SCHEMAS["payout_items"],
    )
    del now
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "orders": orders, "charges": charges, "refunds": refunds, "balance_transactions": bts,
        "payouts": payouts, "payout_items": items, "disputes": SCHEMAS["disputes"].empty_table(),
    }  # fmt: skip
    for name, table in tables.items():
        folder = out / "ledger" / name / "date=all"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "part.parquet", row_group_size=256_000)
    for name in ("transfers", "application_fees"):
        (out / "ledger" / name).mkdir(parents=True, exist_ok=True)
    return {name: t.num_rows for name, t in tables.items()}


if __name__ == "__main__":  # python -m bench.reconcile.data N DIR
    generate(int(sys.argv[1]), Path(sys.argv[2]))
