"""Signed Stripe webhook deliveries, built ahead of the timer so the client only sends bytes.

Bodies are realistic event envelopes (checkout.session.completed, payment_intent.succeeded,
charge.updated; 1.7-2.4 KB) from another application on the same Stripe account (no paywindow
metadata) serialised once per shape with placeholders, then each delivery
gets its own ``evt_`` id and object ids by substitution and its own ``Stripe-Signature``
(``t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}" keyed by the whole secret>``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Delivery", "DeliveryFactory", "new_webhook_secret", "signature_header"]

_EVT = "__EVT__"
_OBJ = "__OBJ__"
_API_VERSION = "2026-10-28.endive"
# Another application's order reference: these events are not paywindow's, so the processor
# (when it runs) marks them ignored instead of looking for orders.
_METADATA = {"shop_order_id": "ord_" + _OBJ, "channel": "web"}


def new_webhook_secret() -> str:
    """A fresh signing secret for one run (never written anywhere but the servers' env)."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery: its event id and the complete HTTP/1.1 request bytes."""

    event_id: str
    request: bytes


class DeliveryFactory:
    """Makes unique signed deliveries for one server (``host:port``) and one secret."""

    def __init__(self, host: str, port: int, secret: str, *, run_tag: str | None = None) -> None:
        self._host = f"{host}:{port}".encode()
        self._secret = secret
        self._tag = run_tag or secrets.token_hex(4)
        self._serial = itertools.count(1)
        created = int(time.time())
        self._templates = [
            json.dumps(_checkout_completed(created), separators=(",", ": "), indent=2),
            json.dumps(_payment_intent_succeeded(created), separators=(",", ": "), indent=2),
            json.dumps(_charge_updated(created), separators=(",", ": "), indent=2),
        ]

    def build(self, count: int) -> list[Delivery]:
        """``count`` deliveries signed now (the recorder accepts them for 300 s)."""
        timestamp = int(time.time())
        return [self._one(timestamp) for _ in range(count)]

    def stream(self, prebuilt: list[Delivery]) -> Iterator[Delivery]:
        """The prebuilt deliveries, then fresh ones if a run outpaces them."""
        yield from prebuilt
        while True:
            yield self._one(int(time.time()))

    def _one(self, timestamp: int) -> Delivery:
        serial = next(self._serial)
        event_id = f"evt_bench{self._tag}{serial:010d}"
        template = self._templates[serial % len(self._templates)]
        body = template.replace(_EVT, event_id).replace(_OBJ, f"{self._tag}{serial:010d}").encode()
        head = (
            b"POST /webhooks/stripe HTTP/1.1\r\n"
            b"Host: %s\r\n"
            b"User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
            b"Accept: */*; q=0.5, application/xml\r\n"
            b"Cache-Control: no-cache\r\n"
            b"Content-Type: application/json; charset=utf-8\r\n"
            b"Stripe-Signature: %s\r\n"
            b"Content-Length: %d\r\n\r\n"
        ) % (self._host, signature_header(body, self._secret, timestamp).encode(), len(body))
        return Delivery(event_id, head + body)


def _envelope(kind: str, created: int, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": _EVT,
        "object": "event",
        "account": "acct_1Q2bench" + "A" * 6,
        "api_version": _API_VERSION,
        "created": created,
        "data": {"object": obj, "previous_attributes": None},
        "livemode": False,
        "pending_webhooks": 2,
        "request": {"id": "req_" + _OBJ, "idempotency_key": "idem-" + _OBJ},
        "type": kind,
    }


def _address() -> dict[str, Any]:
    return {
        "city": "Lyon",
        "country": "FR",
        "line1": "12 rue de la République",
        "line2": None,
        "postal_code": "69002",
        "state": None,
    }


def _checkout_completed(created: int) -> dict[str, Any]:
    session: dict[str, Any] = {
        "id": "cs_test_a1" + _OBJ,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": False,
        "amount_subtotal": 4200,
        "amount_total": 4200,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": "https://shop.example.com/orders/ord_" + _OBJ + "/cancel",
        "client_reference_id": "ord_" + _OBJ,
        "created": created - 40,
        "currency": "eur",
        "customer": "cus_" + _OBJ,
        "customer_creation": None,
        "customer_details": {
            "address": _address(),
            "email": "buyer+" + _OBJ + "@example.com",
            "name": "Camille Martin",
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
        "expires_at": created + 86_000,
        "livemode": False,
        "locale": "fr",
        "metadata": _METADATA,
        "mode": "payment",
        "payment_intent": "pi_3Q" + _OBJ,
        "payment_method_types": ["card"],
        "payment_status": "paid",
        "shipping_details": None,
        "status": "complete",
        "submit_type": "pay",
        "success_url": "https://shop.example.com/orders/ord_" + _OBJ + "/thanks",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
    }
    return _envelope("checkout.session.completed", created, session)


def _payment_intent_succeeded(created: int) -> dict[str, Any]:
    intent: dict[str, Any] = {
        "id": "pi_3Q" + _OBJ,
        "object": "payment_intent",
        "amount": 4200,
        "amount_capturable": 0,
        "amount_received": 4200,
        "application_fee_amount": 420,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "capture_method": "automatic",
        "client_secret": "pi_3Q" + _OBJ + "_secret_bench",
        "confirmation_method": "automatic",
        "created": created - 5,
        "currency": "eur",
        "customer": "cus_" + _OBJ,
        "description": "Order ord_" + _OBJ,
        "last_payment_error": None,
        "latest_charge": "ch_3Q" + _OBJ,
        "livemode": False,
        "metadata": _METADATA,
        "payment_method": "pm_1Q" + _OBJ,
        "payment_method_options": {
            "card": {"installments": None, "network": None, "request_three_d_secure": "automatic"}
        },
        "payment_method_types": ["card"],
        "receipt_email": "buyer+" + _OBJ + "@example.com",
        "shipping": None,
        "status": "succeeded",
        "transfer_data": {"destination": "acct_1Q2seller"},
        "transfer_group": "group_pi_3Q" + _OBJ,
    }
    return _envelope("payment_intent.succeeded", created, intent)


def _charge_updated(created: int) -> dict[str, Any]:
    charge: dict[str, Any] = {
        "id": "ch_3Q" + _OBJ,
        "object": "charge",
        "amount": 4200,
        "amount_captured": 4200,
        "amount_refunded": 0,
        "application_fee_amount": 420,
        "balance_transaction": "txn_3Q" + _OBJ,
        "billing_details": {
            "address": _address(),
            "email": "buyer+" + _OBJ + "@example.com",
            "name": "Camille Martin",
            "phone": None,
        },
        "captured": True,
        "created": created - 2,
        "currency": "eur",
        "customer": "cus_" + _OBJ,
        "disputed": False,
        "livemode": False,
        "metadata": _METADATA,
        "outcome": {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": "pi_3Q" + _OBJ,
        "payment_method": "pm_1Q" + _OBJ,
        "payment_method_details": {
            "card": {
                "brand": "visa",
                "checks": {"cvc_check": "pass", "address_line1_check": None},
                "country": "FR",
                "exp_month": 12,
                "exp_year": 2030,
                "fingerprint": "Xt5EWLLDS7FJjR1c",
                "funding": "credit",
                "last4": "4242",
                "network": "visa",
            },
            "type": "card",
        },
        "receipt_url": "https://pay.stripe.com/receipts/payment/" + _OBJ,
        "refunded": False,
        "status": "succeeded",
    }
    return _envelope("charge.updated", created, charge)
