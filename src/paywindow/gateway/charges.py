"""Charges: what a receipt needs to say about how the buyer paid.

:func:`charge_details` reads a charge object (a dict from a recorded event, or the SDK's object
converted to a dict); :func:`fetch_charge_details` asks Stripe when no event carried it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

from paywindow.gateway.client import call

__all__ = ["ChargeDetails", "charge_details", "fetch_charge_details"]


@dataclass(frozen=True, slots=True)
class ChargeDetails:
    """The payment method of a charge and the refunds Stripe lists for it."""

    id: str
    method_type: str  # card, us_bank_account, sepa_debit, ...
    brand: str | None  # visa, mastercard, ... (cards); the bank name for bank debits
    last4: str | None
    refund_ids: tuple[str, ...] = ()


def charge_details(obj: dict[str, Any]) -> ChargeDetails:
    """Read a charge object's ``payment_method_details`` and its embedded refunds."""
    details = obj.get("payment_method_details") or {}
    method_type = str(details.get("type") or "card")
    specific = details.get(method_type) or {}
    brand = specific.get("brand") or specific.get("bank_name")
    refunds = (obj.get("refunds") or {}).get("data") or []
    return ChargeDetails(
        id=str(obj["id"]),
        method_type=method_type,
        brand=str(brand) if brand else None,
        last4=str(specific["last4"]) if specific.get("last4") else None,
        refund_ids=tuple(str(r["id"]) for r in refunds if isinstance(r, dict) and "id" in r),
    )


def fetch_charge_details(client: stripe.StripeClient, charge_id: str) -> ChargeDetails:
    """Retrieve the charge from Stripe (errors translated by :func:`call`)."""
    charge = call(lambda: client.v1.charges.retrieve(charge_id, params={"expand": ["refunds"]}))
    return charge_details(charge.to_dict())
