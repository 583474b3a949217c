"""Receipts fixtures: one moto S3/KMS server per session, a fresh bucket per test, a warm
renderer, and the service wired to them (in-process rendering)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paywindow.clock import ManualClock
from paywindow.receipts.content import Platform
from paywindow.receipts.pool import inline
from paywindow.receipts.render import Renderer
from paywindow.receipts.service import ReceiptConfig, ReceiptService
from paywindow.receipts.signing import S3UrlSigner
from paywindow.sandbox import free_port
from paywindow.sandbox.s3 import S3Handle, prepare_bucket
from tests.factories import NOW

REPORTS = Path(__file__).resolve().parents[2] / "reports"
FOOTER = "paywindow Marketplace Ltd., 1 Example Street, London. Company no. 00000000."


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> S3Handle:
    return prepare_bucket(s3_endpoint)


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    return Renderer(REPORTS)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW + timedelta(minutes=1))


def make_service(engine: Engine, s3: S3Handle, **config: object) -> ReceiptService:
    store = s3.store()
    return ReceiptService(
        engine,
        store,
        S3UrlSigner(store),
        Platform("paywindow marketplace", FOOTER),
        config=ReceiptConfig(**config),  # type: ignore[arg-type]
    )


@pytest.fixture
def service(engine: Engine, s3: S3Handle) -> ReceiptService:
    return make_service(engine, s3)


@pytest.fixture
def submit(renderer: Renderer):  # type: ignore[no-untyped-def]
    return inline(renderer)
