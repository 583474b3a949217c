"""One measured run of the matching: ``python -m bench.reconcile.engines duckdb|pandas DIR``.

Prints one JSON line: seconds (reading the data included), findings by kind and the process's
peak RSS (``VmHWM``), so each run is its own process. ``VmHWM`` belongs to this program's
address space only; ``wait4``'s ``ru_maxrss`` would also count the parent's peak, which the
kernel carries over into the child at ``exec``.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PERIOD = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
AS_OF = datetime(2027, 1, 1, tzinfo=UTC)
SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "reconcile"


def run_duckdb(data: Path, memory_limit: str) -> Counter[str]:
    from paywindow.reconcile.ledger import ledger_files
    from paywindow.reconcile.matching import Slas, connect, find, register_ledger, register_parquet

    con = connect(memory_limit=memory_limit, threads=2)
    register_ledger(con, data)
    register_parquet(con, "orders", ledger_files(data, "orders"))  # scanned in place, no Arrow copy
    found, _ = find(
        con, SQL_DIR, period_from=PERIOD[0], period_to=PERIOD[1], as_of=AS_OF, slas=Slas()
    )
    return Counter(f.kind for f in found)


def run_pandas(data: Path) -> Counter[str]:
    """The same matching written plainly in pandas (the baseline)."""
    import pandas as pd

    def read(name: str) -> Any:
        return pd.read_parquet(data / "ledger" / name)

    orders, charges, refunds = read("orders"), read("charges"), read("refunds")
    bts, payouts, items = read("balance_transactions"), read("payouts"), read("payout_items")
    lo, hi = pd.Timestamp(PERIOD[0]), pd.Timestamp(PERIOD[1])
    counts: Counter[str] = Counter()
    paid = charges[(charges.status == "succeeded") & charges.order_id.notna()]
    refunded = (
        refunds[refunds.status.isin(["succeeded", "pending"])]
        .groupby("charge", as_index=False)["amount"]
        .sum()
        .rename(columns={"amount": "stripe_refunded", "charge": "charge_id"})
    )
    in_scope = pd.concat(
        [
            orders.loc[(orders.paid_at >= lo) & (orders.paid_at < hi), ["id"]].rename(
                columns={"id": "order_id"}
            ),
            paid.loc[(paid.created >= lo) & (paid.created < hi), ["order_id"]],
        ]
    ).drop_duplicates()
    cand = in_scope.merge(paid, on="order_id").merge(
        orders[["id", "charge"]].rename(columns={"id": "order_id", "charge": "own"}),
        on="order_id",
        how="left",
    )
    cand["is_own"] = cand["id"] == cand["own"]
    cand = cand.sort_values(["order_id", "is_own", "created", "id"], ascending=[1, 0, 1, 1])
    cand["rank"] = cand.groupby("order_id").cumcount() + 1
    first = cand[cand["rank"] == 1].rename(
        columns={"id": "charge_id", "currency": "stripe_currency", "created": "charged_at"}
    )
    pairs = (
        in_scope.merge(orders, left_on="order_id", right_on="id", how="left")
        .merge(first[["order_id", "charge_id", "charged_at", "stripe_currency", "amount",
                      "application_fee_amount", "destination"]],
               on="order_id", how="left", suffixes=("", "_c"))
        .merge(refunded, on="charge_id", how="left")
    )  # fmt: skip
    pairs["stripe_refunded"] = pairs["stripe_refunded"].fillna(0)
    local_paid, has_charge = pairs.paid_at.notna(), pairs.charge_id.notna()
    both = local_paid & has_charge
    same = both & (pairs.stripe_currency == pairs.currency)
    counts["missing_in_stripe"] += int((local_paid & ~has_charge).sum())
    counts["missing_locally"] += int((has_charge & ~local_paid).sum())
    counts["currency_mismatch"] += int((both & (pairs.stripe_currency != pairs.currency)).sum())
    counts["amount_over"] += int((same & (pairs.amount > pairs.amount_total)).sum())
    counts["amount_under"] += int((same & (pairs.amount < pairs.amount_total)).sum())
    fee = pairs.application_fee_amount_c.fillna(0) != pairs.application_fee_amount
    route = pairs.destination.fillna("") != pairs.seller_account
    counts["fee_mismatch"] += int((both & (fee | route)).sum())
    late = (pairs.paid_at > pairs.deadline) & has_charge & (pairs.stripe_refunded < pairs.amount)
    counts["late_payment_not_refunded"] += int(late.sum())
    dup = cand[cand["rank"] > 1].merge(refunded, left_on="id", right_on="charge_id", how="left")
    counts["duplicate_charge"] += int((dup.stripe_refunded.fillna(0) < dup.amount).sum())
    # refunds here <-> there
    by_charge = (
        refunds[refunds.status.isin(["succeeded", "pending"])]
        .groupby("charge")
        .agg(stripe_refunded=("amount", "sum"), last_at=("created", "max"))
    )
    comp = orders[orders.paid_at.notna() & orders.charge.notna()].merge(
        by_charge, left_on="charge", right_index=True, how="left"
    )
    comp = comp[
        ((comp.paid_at >= lo) & (comp.paid_at < hi)) | ((comp.last_at >= lo) & (comp.last_at < hi))
    ]
    stripe_r = comp.stripe_refunded.fillna(0)
    counts["status_mismatch"] += int(((comp.amount_refunded == 0) & (stripe_r > 0)).sum())
    differ = (comp.amount_refunded > 0) & (stripe_r > 0) & (comp.amount_refunded != stripe_r)
    counts["amount_over"] += int((differ & (stripe_r > comp.amount_refunded)).sum())
    counts["amount_under"] += int((differ & (stripe_r < comp.amount_refunded)).sum())
    counts["missing_in_stripe"] += int(((comp.amount_refunded > 0) & (stripe_r == 0)).sum())
    # payouts <-> their balance transactions
    lines = (
        items.merge(bts[["id", "net"]], left_on="balance_transaction", right_on="id", how="left")
        .groupby("payout")
        .agg(items=("payout", "size"), found=("net", "count"), explained=("net", "sum"))
    )
    p = payouts[(payouts.created >= lo) & (payouts.created < hi)].merge(
        lines, left_on="id", right_index=True, how="left"
    )
    bad = p["items"].isna() | (p.explained != p.amount) | (p.found != p["items"])
    counts["payout_unexplained"] += int(bad.sum())
    return +counts


def main() -> None:
    engine, data = sys.argv[1], Path(sys.argv[2])
    start = time.perf_counter()
    counts = run_duckdb(data, sys.argv[3]) if engine == "duckdb" else run_pandas(data)
    seconds = time.perf_counter() - start
    findings = dict(sorted(counts.items()))
    print(json.dumps({"seconds": seconds, "findings": findings, "vmhwm_mb": _peak_mb()}))


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    main()
