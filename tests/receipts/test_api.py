"""GET /v1/orders/{id}/receipt on a bare FastAPI app: CloudFront signatures verified with the
public key, expiry checked; the S3 presigned fallback downloads the exact stored PDF."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI
from sqlalchemy import Engine

from paywindow.clock import ManualClock
from paywindow.receipts.service import ReceiptService, Submit
from paywindow.receipts.signing import CloudFrontUrlSigner
from paywindow.web.receipts import router
from tests.world import pay_order, place_order


class _Api:
    """The router on a bare app, called in-process through httpx's ASGI transport."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def get(self, path: str) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.get(path)

        return asyncio.run(go())


def _client(service: ReceiptService, clock: ManualClock) -> _Api:
    app = FastAPI()
    app.include_router(router)
    app.state.receipts = service
    app.state.clock = clock
    return _Api(app)


def _cf_unb64(value: str) -> bytes:
    return base64.b64decode(value.replace("-", "+").replace("_", "=").replace("~", "/"))


def test_cloudfront_signed_url_verifies_with_the_public_key_and_expires_in_24h(
    engine: Engine, service: ReceiptService, clock: ManualClock, submit: Submit
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    service.signer = CloudFrontUrlSigner("d111.cloudfront.net", "K2JCJMDEHXQW5F", pem)
    pay_order(engine, "ord_a1")
    service.run_once(clock, submit)
    answer = _client(service, clock).get("/v1/orders/ord_a1/receipt")
    assert answer.status_code == 200
    receipt = answer.json()["receipt"]
    url = urlsplit(receipt["url"])
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "d111.cloudfront.net",
        "/receipts/2026/11/R-2026-000001.pdf",
    )
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["Key-Pair-Id"] == "K2JCJMDEHXQW5F"
    expires = int(query["Expires"])
    assert expires == int((clock.now() + timedelta(hours=24)).timestamp())
    resource = f"https://d111.cloudfront.net{url.path}"
    policy = json.dumps(
        {
            "Statement": [
                {"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}
            ]
        },
        separators=(",", ":"),
    ).encode()
    key.public_key().verify(
        _cf_unb64(query["Signature"]), policy, padding.PKCS1v15(), hashes.SHA1()
    )
    with pytest.raises(Exception):  # noqa: B017 - any InvalidSignature
        key.public_key().verify(
            _cf_unb64(query["Signature"]),
            policy.replace(b"R-", b"X-"),
            padding.PKCS1v15(),
            hashes.SHA1(),
        )


def test_s3_presigned_fallback_downloads_the_stored_version(
    engine: Engine, service: ReceiptService, clock: ManualClock, submit: Submit
) -> None:
    pay_order(engine, "ord_a2")
    api = _client(service, clock)
    pending = api.get("/v1/orders/ord_a2/receipt")
    assert (pending.status_code, pending.json()["status"]) == (202, "pending")
    assert pending.headers["Retry-After"] == "1"
    service.run_once(clock, submit)
    receipt = api.get("/v1/orders/ord_a2/receipt").json()["receipt"]
    query = parse_qs(urlsplit(receipt["url"]).query)
    assert query["X-Amz-Expires"] == ["86400"]
    assert "versionId" in query
    pdf = httpx.get(receipt["url"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    import hashlib

    assert hashlib.sha256(pdf.content).hexdigest() == receipt["sha256"]


def test_errors_use_the_api_shape(
    engine: Engine, service: ReceiptService, clock: ManualClock
) -> None:
    place_order(engine, "ord_a3")
    api = _client(service, clock)
    missing = api.get("/v1/orders/ord_nope/receipt")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "order_not_found"
    unpaid = api.get("/v1/orders/ord_a3/receipt")
    assert unpaid.status_code == 409
    assert unpaid.json()["error"]["code"] == "order_not_paid"
