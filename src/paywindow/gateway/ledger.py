"""Reading Stripe's ledger: the money objects reconciliation compares with local state.

Every function pages through one list endpoint with ``created[gte]`` and returns plain dicts
(the objects as Stripe sent them). Errors are translated by :func:`stripe_errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import stripe

from paywindow.gateway.client import stripe_errors

__all__ = ["LEDGER_RESOURCES", "list_created_since", "payout_transaction_ids"]

#: The ledger resources, by the name used for their Parquet table.
LEDGER_RESOURCES: tuple[str, ...] = (
    "balance_transactions",
    "charges",
    "refunds",
    "disputes",
    "payouts",
    "transfers",
    "application_fees",
)


def _service(client: stripe.StripeClient, resource: str) -> Any:
    services: dict[str, Any] = {
        "balance_transactions": client.v1.balance_transactions,
        "charges": client.v1.charges,
        "refunds": client.v1.refunds,
        "disputes": client.v1.disputes,
        "payouts": client.v1.payouts,
        "transfers": client.v1.transfers,
        "application_fees": client.v1.application_fees,
    }
    return services[resource]


def list_created_since(
    client: stripe.StripeClient, resource: str, created_gte: int, *, page_size: int = 100
) -> Iterator[dict[str, Any]]:
    """Every ``resource`` object created at or after ``created_gte`` (unix seconds)."""
    params: dict[str, Any] = {"created": {"gte": created_gte}, "limit": page_size}
    with stripe_errors():
        page = _service(client, resource).list(params=params)
        for item in page.auto_paging_iter():
            yield item.to_dict()


def payout_transaction_ids(client: stripe.StripeClient, payout_id: str) -> list[str]:
    """The ids of the balance transactions a payout settled (its own payout BT excluded)."""
    with stripe_errors():
        page = client.v1.balance_transactions.list(params={"payout": payout_id, "limit": 100})
        return [t.id for t in page.auto_paging_iter() if t.type != "payout"]
