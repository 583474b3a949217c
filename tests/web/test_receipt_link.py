"""The order API hands out the receipt once it is stored: through the order view and the
receipt route, both behind the bearer token."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from paywindow.receipts.pool import inline
from paywindow.receipts.render import Renderer
from paywindow.receipts.service import ReceiptService
from paywindow.sandbox.s3 import running_s3
from tests.world import REPORTS, World, build_world, receipt_service


@pytest.fixture
def world_with_receipts(engine: Engine) -> Iterator[tuple[World, ReceiptService]]:
    with running_s3() as s3, build_world(engine) as world:
        service = receipt_service(engine, s3)
        world.service.receipts = service
        yield world, service


def test_receipt_link_appears_once_the_pdf_is_stored(
    world_with_receipts: tuple[World, ReceiptService],
) -> None:
    world, receipts = world_with_receipts
    if world.engine.dialect.name != "sqlite":
        pytest.skip("the receipts suite covers PostgreSQL; this checks the wiring")
    view = world.create("ord_rcpt").json()
    assert world.api("GET", "/v1/orders/ord_rcpt/receipt").status_code == 409  # not paid yet
    world.sandbox.pay(view["session_id"], "success")
    world.settle()
    assert world.api("GET", "/v1/orders/ord_rcpt").json()["receipt_url"] is None
    receipts.run_once(world.clock, inline(Renderer(REPORTS)))
    order = world.api("GET", "/v1/orders/ord_rcpt").json()
    assert order["state"] == "paid"
    assert order["receipt_url"].startswith("http")
    link = world.api("GET", "/v1/orders/ord_rcpt/receipt")
    assert link.status_code == 200
    pdf = httpx.get(link.json()["receipt"]["url"])
    assert pdf.content.startswith(b"%PDF")
    unauthorised = httpx.get(world.url + "/v1/orders/ord_rcpt/receipt")
    assert unauthorised.status_code == 401
