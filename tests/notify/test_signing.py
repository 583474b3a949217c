"""Signatures from paywindow.notify.signing verify with the Standard Webhooks reference library
(what the marketplace's backend runs), during a secret rotation too; tampering and old
timestamps are refused; the secret has the format off-the-shelf verifiers take."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from paywindow.notify.signing import headers, new_secret, sign

BODY = json.dumps(
    {
        "id": "msg_000000000042",
        "type": "order.paid",
        "timestamp": "2026-11-28T12:03:10Z",
        "seq": 42,
        "order_id": "ord_8f2k1",
        "data": {"order_id": "ord_8f2k1", "state": "paid"},
    },
    separators=(",", ":"),
).encode()


def test_the_secret_is_whsec_and_base64_of_24_bytes() -> None:
    secret = new_secret()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]+={0,2}", secret)
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert new_secret() != secret


def test_a_delivery_verifies_with_the_reference_library() -> None:
    secret = new_secret()
    sent = headers([secret], "msg_000000000042", int(time.time()), BODY)
    assert set(sent) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert sent["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, sent) == json.loads(BODY)


def test_the_signature_is_the_documented_hmac() -> None:
    """HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}``, base64, ``v1,`` prefix."""
    secret, stamp = new_secret(), 1_764_331_390
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, b"msg_1." + str(stamp).encode() + b"." + BODY, hashlib.sha256)
    assert sign(secret, "msg_1", stamp, BODY) == "v1," + base64.b64encode(digest.digest()).decode()


def test_both_secrets_verify_during_rotation() -> None:
    old, new = new_secret(), new_secret()
    sent = headers([new, old], "msg_000000000042", int(time.time()), BODY)
    signatures = sent["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    for secret in (old, new):
        Webhook(secret).verify(BODY, sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, sent)


def test_a_tampered_body_is_refused() -> None:
    secret = new_secret()
    sent = headers([secret], "msg_000000000042", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"paid", b"PAID"), sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**sent, "webhook-id": "msg_000000000043"})


@pytest.mark.parametrize("skew", [-6 * 60, 6 * 60])
def test_a_timestamp_outside_five_minutes_is_refused(skew: int) -> None:
    secret = new_secret()
    sent = headers([secret], "msg_000000000042", int(time.time()) + skew, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, sent)


def test_a_timestamp_inside_five_minutes_verifies() -> None:
    secret = new_secret()
    sent = headers([secret], "msg_000000000042", int(time.time()) - 4 * 60, BODY)
    Webhook(secret).verify(BODY, sent)
