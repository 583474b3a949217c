"""Receipts fixtures: a fresh bucket per test on the session's moto server (tests/conftest.py),
a warm renderer, and the service wired to them (in-process rendering); see tests.world."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from paywindow.clock import ManualClock
from paywindow.receipts.pool import inline
from paywindow.receipts.render import Renderer
from paywindow.receipts.service import ReceiptService
from paywindow.sandbox.s3 import S3Handle
from tests.factories import NOW
from tests.world import receipt_service
from tests.world import renderer as warm_renderer


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    return warm_renderer()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW + timedelta(minutes=1))


@pytest.fixture
def service(engine: Engine, s3: S3Handle) -> ReceiptService:
    return receipt_service(engine, s3)


@pytest.fixture
def submit(renderer: Renderer):  # type: ignore[no-untyped-def]
    return inline(renderer)
