"""Seeded sandbox worlds: each injected kind is found exactly once; a clean world is clean."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from paywindow.reconcile.findings import list_findings, resolve_finding
from paywindow.reconcile.ledger import ledger_files
from paywindow.reconcile.matching import FINDING_KINDS
from paywindow.store.tables import reconcile_findings, reconcile_run_findings
from tests.reconcile.conftest import Reconciled, run


@pytest.mark.parametrize("kind", FINDING_KINDS, ids=FINDING_KINDS)
def test_each_injected_kind_is_found_exactly_once(injected: Reconciled, kind: str) -> None:
    found = [f for f in injected.result.findings if f.kind == kind]
    assert len(found) == 1, [f.explanation for f in injected.result.findings]
    target = injected.world.injected[kind]
    assert target in (found[0].order_id, found[0].stripe_id)
    assert found[0].explanation


def test_nothing_but_the_injected_findings(injected: Reconciled) -> None:
    assert Counter(f.kind for f in injected.result.findings) == Counter(FINDING_KINDS)
    assert injected.result.expected == []


def test_the_findings_carry_both_sides(injected: Reconciled) -> None:
    by_kind = {f.kind: f for f in injected.result.findings}
    over = by_kind["amount_over"]
    assert (over.local_amount, over.stripe_amount, over.currency) == (2000, 2500, "usd")
    assert over.stripe_id == injected.world.charges.get("ord_x_over", over.stripe_id)
    assert "$5.00 more" not in over.explanation and "5.00 USD more" in over.explanation
    fee = by_kind["fee_mismatch"]
    assert (fee.local_amount, fee.stripe_amount) == (500, 650)
    assert by_kind["currency_mismatch"].currency == "usd"
    assert by_kind["status_mismatch"].stripe_amount == 6000
    assert by_kind["missing_in_stripe"].stripe_id is None


def test_a_clean_world_has_no_findings(clean: Reconciled) -> None:
    assert clean.result.findings == []
    assert clean.result.expected == []


def test_totals_per_currency_match_stripe(clean: Reconciled) -> None:
    totals = {row["currency"]: row for row in clean.result.totals}
    assert set(totals) == {"usd", "eur", "jpy"}
    client = clean.world.client
    bts = list(client.v1.balance_transactions.list(params={"limit": 100}).auto_paging_iter())
    for currency, row in totals.items():
        mine = [t for t in bts if t.currency == currency]
        assert row["gross"] == sum(t.amount for t in mine if t.type in ("charge", "payment"))
        assert row["stripe_fees"] == sum(t.fee for t in mine)
        assert row["net"] == sum(t.net for t in mine if t.type != "payout")
        assert row["payouts"] == -sum(t.amount for t in mine if t.type == "payout")
    jpy = totals["jpy"]
    assert (jpy["gross"], jpy["platform_fees"], jpy["transfers"]) == (3000, 300, -3000)
    usd = totals["usd"]
    assert usd["refunds"] == -(2000 + 3000) and usd["disputes"] == -5000  # lost; won nets out


def test_payouts_are_explained_line_by_line(clean: Reconciled) -> None:
    payouts = clean.result.payouts
    assert payouts, "the world plays out enough days for payouts"
    assert all(p["difference"] == 0 for p in payouts)
    categories = {k for p in payouts for k in ("charges", "refunds", "disputes") if p[k]}
    assert {"charges", "refunds", "disputes"} <= categories
    assert any(p["platform_fees"] and p["transfers"] for p in payouts)
    stripe_payouts = clean.world.client.v1.payouts.list(params={"limit": 100}).data
    assert {p["payout"] for p in payouts} == {p.id for p in stripe_payouts}


def test_rerun_keeps_resolutions_and_never_duplicates(injected: Reconciled) -> None:
    engine = injected.world.engine
    first = injected.result
    dup = next(f for f in first.findings if f.kind == "duplicate_charge")
    resolve_finding(engine, dup.id, "refunded the second charge by hand", injected.world.now())
    again = injected.rerun()
    assert sorted(f.id for f in again.findings) == sorted(f.id for f in first.findings)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(reconcile_findings)).scalar_one() == 10
        linked = conn.execute(
            select(func.count()).where(reconcile_run_findings.c.run_id == again.run_id)
        ).scalar_one()
    assert linked == 10
    kept = next(f for f in again.findings if f.id == dup.id)
    assert (
        kept.status == "resolved" and kept.resolution_note == "refunded the second charge by hand"
    )
    assert len(list_findings(engine, status="open")) == 9


def test_a_resync_changes_no_ledger_row(clean: Reconciled) -> None:
    def counts() -> dict[str, int]:
        import pyarrow.parquet as pq

        out = {}
        for table in ("balance_transactions", "charges", "refunds", "payouts", "payout_items"):
            files = ledger_files(clean.world.data_dir, table)
            out[table] = sum(pq.read_metadata(f).num_rows for f in files)
        return out

    before = counts()
    clean.world.sync()
    assert counts() == before
    assert before["balance_transactions"] > 40


def test_within_the_sla_a_missed_webhook_is_expected(injected: Reconciled) -> None:
    missed = next(f for f in injected.result.findings if f.kind == "missing_locally")
    assert missed.occurred_at is not None
    early = run(injected.world, as_of=missed.occurred_at + timedelta(minutes=5))
    assert "missing_locally" in {e.kind for e in early.expected}
    assert "missing_locally" not in {f.kind for f in early.findings}
