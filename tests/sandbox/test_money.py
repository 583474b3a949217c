"""Money movement: destination charges, refunds, disputes, payouts and balances."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from paywindow.sandbox import SandboxHandle, running_sandbox
from tests.sandbox.conftest import START, destination_params, session_params

DAY = 86_400


def _paid_charge(sandbox: SandboxHandle, client: stripe.StripeClient, params: Any) -> Any:
    session = client.v1.checkout.sessions.create(params=params)
    result = sandbox.pay(session.id)
    return client.v1.charges.retrieve(result["charge"]["id"])


def _bts(client: stripe.StripeClient, **params: Any) -> list[Any]:
    query: Any = {"limit": 100, **params}
    listed = client.v1.balance_transactions.list(params=query)
    return list(listed.auto_paging_iter())


def test_destination_charge_adds_up(
    sandbox: SandboxHandle, client: stripe.StripeClient, seller: str
) -> None:
    charge = _paid_charge(sandbox, client, destination_params(seller))
    txn = client.v1.balance_transactions.retrieve(charge.balance_transaction)
    assert (txn.type, txn.reporting_category) == ("charge", "charge")
    assert (txn.amount, txn.fee, txn.net) == (2000, 88, 1912)
    assert txn.fee_details[0].type == "stripe_fee"
    assert txn.available_on % DAY == 0 and txn.status == "pending"
    fee = client.v1.application_fees.retrieve(charge.application_fee)
    assert fee.amount == 500 and fee.account == seller
    assert fee.originating_transaction == charge.id
    fee_txn = client.v1.balance_transactions.retrieve(str(fee.balance_transaction))
    assert (fee_txn.type, fee_txn.reporting_category, fee_txn.net) == (
        "application_fee",
        "platform_earning",
        500,
    )
    transfer = client.v1.transfers.retrieve(charge.transfer)
    assert transfer.amount == 2000 and transfer.destination == seller
    assert transfer.source_transaction == charge.id
    transfer_txn = client.v1.balance_transactions.retrieve(str(transfer.balance_transaction))
    assert (transfer_txn.type, transfer_txn.net) == ("transfer", -2000)
    platform = _bts(client)
    assert sum(t.net for t in platform) == 1912 - 2000 + 500
    assert all(t.reporting_category for t in platform)
    connected = client.v1.balance_transactions.list(options={"stripe_account": seller})
    (payment,) = connected.data
    assert (payment.type, payment.amount, payment.fee, payment.net) == ("payment", 2000, 500, 1500)
    by_source = _bts(client, source=charge.id)
    assert [t.id for t in by_source] == [txn.id]
    assert [t.id for t in _bts(client, type="application_fee")] == [fee_txn.id]


def test_transfer_amount_means_no_application_fee(
    sandbox: SandboxHandle, client: stripe.StripeClient, seller: str
) -> None:
    params = session_params(
        payment_intent_data={"transfer_data": {"destination": seller, "amount": 1700}}
    )
    charge = _paid_charge(sandbox, client, params)
    assert charge.application_fee is None
    assert client.v1.transfers.retrieve(charge.transfer).amount == 1700


@pytest.mark.parametrize("refund_fee", [False, True], ids=["keep-fee", "refund-fee"])
def test_partial_then_full_refund(
    sandbox: SandboxHandle, client: stripe.StripeClient, seller: str, refund_fee: bool
) -> None:
    charge = _paid_charge(sandbox, client, destination_params(seller))
    first = client.v1.refunds.create(
        params={
            "charge": charge.id,
            "amount": 500,
            "reverse_transfer": True,
            "refund_application_fee": refund_fee,
        }
    )
    assert first.status == "succeeded" and first.transfer_reversal is not None
    assert client.v1.charges.retrieve(charge.id).amount_refunded == 500
    second = client.v1.refunds.create(
        params={
            "payment_intent": charge.payment_intent,
            "reverse_transfer": True,
            "refund_application_fee": refund_fee,
        }
    )
    assert second.amount == 1500
    after = client.v1.charges.retrieve(charge.id)
    assert after.refunded and after.amount_refunded == 2000
    transfer = client.v1.transfers.retrieve(charge.transfer)
    assert transfer.amount_reversed == 2000 and transfer.reversed
    fee = client.v1.application_fees.retrieve(charge.application_fee)
    assert fee.amount_refunded == (500 if refund_fee else 0)
    refunds = _bts(client, type="refund")
    assert sorted(t.amount for t in refunds) == [-1500, -500]
    assert {t.reporting_category for t in _bts(client, type="transfer_refund")} == {
        "transfer_reversal"
    }
    platform_net = sum(t.net for t in _bts(client))
    assert platform_net == (-88 if refund_fee else 500 - 88)
    types = [e.type for e in client.v1.events.list(params={"limit": 100}).data]
    assert types.count("charge.refunded") == 2 and types.count("refund.created") == 2
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"charge": charge.id})
    assert caught.value.code == "charge_already_refunded"


def test_refund_too_large(sandbox: SandboxHandle, client: stripe.StripeClient) -> None:
    charge = _paid_charge(sandbox, client, session_params())
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"charge": charge.id, "amount": 2001})
    assert caught.value.code == "amount_too_large"


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_dispute(sandbox: SandboxHandle, client: stripe.StripeClient, outcome: str) -> None:
    charge = _paid_charge(sandbox, client, session_params())
    opened = sandbox.open_dispute(charge.id)
    dispute = client.v1.disputes.retrieve(opened["id"])
    assert dispute.status == "needs_response" and dispute.amount == 2000
    (withdrawal,) = dispute.balance_transactions
    assert (withdrawal.type, withdrawal.reporting_category) == ("adjustment", "dispute")
    assert (withdrawal.amount, withdrawal.fee, withdrawal.net) == (-2000, 1500, -3500)
    sandbox.close_dispute(dispute.id, outcome)
    closed = client.v1.disputes.retrieve(dispute.id)
    assert closed.status == outcome
    if outcome == "won":
        reversal = closed.balance_transactions[1]
        assert reversal.reporting_category == "dispute_reversal"
        assert (reversal.amount, reversal.fee, reversal.net) == (2000, -1500, 3500)
    types = [e.type for e in client.v1.events.list(params={"limit": 100}).data]
    assert "charge.dispute.created" in types and "charge.dispute.closed" in types


def test_daily_payouts_sum_their_balance_transactions() -> None:
    with running_sandbox(start=START) as sandbox:
        client = sandbox.client()
        for _ in range(3):
            _paid_charge(sandbox, client, session_params())
        charge = _paid_charge(sandbox, client, session_params())
        client.v1.refunds.create(params={"charge": charge.id, "amount": 300})
        balance = client.v1.balance.retrieve()
        assert balance.pending[0].amount == 4 * 1912
        assert balance.available[0].amount == -300
        sandbox.advance(3 * DAY)
        (payout,) = client.v1.payouts.list().data
        assert payout.automatic and payout.status == "paid"
        assert payout.amount == 4 * 1912 - 300
        swept = _bts(client, payout=payout.id)
        assert sum(t.net for t in swept if t.type != "payout") == payout.amount
        assert sum(t.net for t in swept) == 0
        payout_txn = client.v1.balance_transactions.retrieve(str(payout.balance_transaction))
        assert (payout_txn.type, payout_txn.reporting_category) == ("payout", "payout")
        assert client.v1.balance.retrieve().available[0].amount == 0
        types = [e.type for e in client.v1.events.list().data]
        assert "payout.created" in types and "payout.paid" in types


def test_fee_configuration() -> None:
    with running_sandbox(start=START, fee_percent="1.4", fee_fixed=25, payouts=False) as sandbox:
        client = sandbox.client()
        charge = _paid_charge(sandbox, client, session_params())
        txn = client.v1.balance_transactions.retrieve(charge.balance_transaction)
        assert txn.fee == 28 + 25
