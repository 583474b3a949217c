"""The message catalogue: every topic has a valid schema, every example (in the schemas and in
docs/notifications.md) validates, and every payload real flows emit is valid against its topic's
schema; each topic of the catalogue is emitted by at least one flow."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError
from sqlalchemy import Engine, select

from paywindow.notify.catalogue import TOPICS, VERSION, UnknownTopic, schema, validate
from paywindow.payments import close_overdue, refund_late_payments
from paywindow.sandbox.s3 import S3Handle
from paywindow.store.tables import outbox
from tests import factories as f
from tests.payments.helpers import apply
from tests.retries.helpers import failed_order, run
from tests.world import World, build_world, pay_order, refund_order

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "notifications.md"
SCHEMAS = ROOT / "src" / "paywindow" / "notify" / "schemas"


# -- the catalogue itself -----------------------------------------------------------------


def test_every_topic_has_exactly_one_valid_schema() -> None:
    assert len(set(TOPICS)) == len(TOPICS)
    assert sorted(p.stem for p in SCHEMAS.glob("*.json")) == sorted(TOPICS)
    for topic in TOPICS:
        found = schema(topic)
        Draft202012Validator.check_schema(found)
        assert found["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert found["$id"] == f"urn:paywindow:notifications:{VERSION}:{topic}"
        assert found["additionalProperties"] is False
        assert set(found["required"]) <= set(found["properties"]), topic
        assert found["examples"], topic
        for example in found["examples"]:
            validate(topic, example)


def test_validation_refuses_what_the_schema_does_not_allow() -> None:
    (example,) = schema("order.paid")["examples"]
    with pytest.raises(ValidationError):
        validate("order.paid", {**example, "surprise": 1})
    with pytest.raises(ValidationError):
        validate("order.paid", {k: v for k, v in example.items() if k != "paid_at"})
    with pytest.raises(ValidationError):
        validate("order.paid", {**example, "paid_at": "yesterday"})
    with pytest.raises(ValidationError):
        validate("order.paid", {**example, "state": "expired"})
    with pytest.raises(UnknownTopic):
        schema("order.shipped")


def _doc_examples() -> list[tuple[str, dict[str, Any]]]:
    """(topic, data) of every JSON block in docs/notifications.md: a whole message names its
    topic in ``type``; a bare payload belongs to the topic of the ``###`` heading above it."""
    found = []
    topic = None
    text = DOCS.read_text(encoding="utf-8")
    for match in re.finditer(r"^### `([a-z_.]+)`|^```json\n(.*?)^```", text, flags=re.M | re.S):
        if match.group(1):
            topic = match.group(1)
            continue
        body = json.loads(match.group(2))
        if "type" in body and "data" in body:
            found.append((body["type"], body["data"]))
        elif topic in TOPICS:
            found.append((topic, body))
    return found


def test_every_example_in_the_docs_validates() -> None:
    examples = _doc_examples()
    for topic, data in examples:
        validate(topic, data)
    assert {topic for topic, _ in examples} == set(TOPICS)


def test_the_docs_list_every_topic_in_catalogue_order() -> None:
    text = DOCS.read_text(encoding="utf-8")
    headings = re.findall(r"^### `([a-z_.]+)`", text, flags=re.M)
    assert headings == list(TOPICS)
    for topic in TOPICS:
        assert f"schemas/{topic}.json" in text, topic


# -- what real flows emit -----------------------------------------------------------------


def _messages(engine: Engine) -> list[tuple[str, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.topic, outbox.c.payload).order_by(outbox.c.id))
        return [(row.topic, json.loads(row.payload)) for row in rows]


def _store_flows(engine: Engine) -> None:
    """Real Stripe payloads through the real processor, no sandbox: a held payment and
    partial refunds (one replayed)."""
    held = f.open_order(engine, "ord_held")
    paid = f.session(held, status="complete", payment_status="paid", amount_total=2600)
    apply(engine, f.event("checkout.session.completed", paid))
    total = pay_order(engine, "ord_parts")
    refund_order(engine, "ord_parts", 1000, total, "re_1")
    refund_order(engine, "ord_parts", 1000, total, "re_1")  # the same refund, told again
    refund_order(engine, "ord_parts", 2000, total, "re_2")


def _world_flows(world: World) -> None:
    """A marketplace day on the sandbox: paid, async, declined (soft, hard, too late to
    retry), retried by link, refunded, disputed both ways, receipts, expired."""
    sessions = {}
    for order_id in ("ord_paid", "ord_won", "ord_lost", "ord_async", "ord_late_fail", "ord_exp"):
        created = world.create(order_id)
        assert created.status_code == 201, created.text
        sessions[order_id] = created.json()["session_id"]
    charges = {
        oid: world.sandbox.pay(sessions[oid], "success")["charge"]["id"]
        for oid in ("ord_paid", "ord_won", "ord_lost")
    }
    world.sandbox.pay(sessions["ord_async"], "success", async_="settle", settle_after=3600)
    failed_order(world, "ord_soft", "insufficient_funds")
    failed_order(world, "ord_hard", "do_not_honor")
    world.settle()
    run(world)  # plans open, failures are announced; the hard decline's link goes at once

    world.refund(charges["ord_paid"], 1000)
    world.settle()
    world.refund(charges["ord_paid"])
    disputes = {
        oid: world.sandbox.open_dispute(charges[oid])["id"] for oid in ("ord_won", "ord_lost")
    }
    world.settle()
    for oid, outcome in (("ord_won", "won"), ("ord_lost", "lost")):
        world.sandbox.close_dispute(disputes[oid], outcome)
    world.settle()
    world.render()

    world.advance(timedelta(hours=1))
    world.settle()  # the async payment settles
    run(world)  # the soft decline's first retry: a link
    world.advance(timedelta(hours=22, minutes=30))
    world.sandbox.pay(sessions["ord_late_fail"], "decline", decline_code="insufficient_funds")
    world.settle()
    run(world)  # too close to the deadline: nothing is planned
    world.advance(timedelta(minutes=31))
    close_overdue(world.engine, world.now())
    world.settle()


def _late_payment(engine: Engine) -> None:
    with build_world(engine, window=timedelta(minutes=20)) as world:
        view = world.create("ord_late_paid").json()
        world.advance(timedelta(minutes=20, seconds=1))
        world.sandbox.pay(view["session_id"], "success")
        world.settle()
        refund_late_payments(world.engine, world.stripe, world.now())
        world.settle()


def test_every_emitted_payload_validates_and_every_topic_is_emitted(
    engine: Engine, s3: S3Handle
) -> None:
    _store_flows(engine)
    with build_world(engine, s3=s3) as world:
        _world_flows(world)
    _late_payment(engine)

    messages = _messages(engine)
    for topic, payload in messages:
        try:
            validate(topic, payload)
        except ValidationError as exc:
            raise AssertionError(
                f"{topic}: {exc.message}\n{json.dumps(payload, indent=2)}"
            ) from None
    counts = Counter(topic for topic, _ in messages)
    assert set(counts) == set(TOPICS), sorted(set(TOPICS) - set(counts))

    def of(topic: str, order_id: str) -> list[dict[str, Any]]:
        return [p for t, p in messages if t == topic and p["order_id"] == order_id]

    # a replayed refund announces nothing twice; a second partial refund is a new message
    parts = of("order.partially_refunded", "ord_parts")
    assert [(p["amount_refunded"], p["amount_remaining"]) for p in parts] == [
        (1000, 1500),
        (2000, 500),
    ]
    assert [p["amount_refunded"] for p in of("order.refunded", "ord_paid")] == [2500]
    # a failure says whether and when a retry runs, and what to tell the buyer
    (soft,) = of("order.payment_failed", "ord_soft")
    assert (soft["retry_planned"], soft["next_retry"], soft["advice"]) == (
        True,
        1,
        "retry_scheduled",
    )
    assert soft["next_retry_at"] == (f.NOW + timedelta(hours=1)).isoformat()
    (hard,) = of("order.payment_failed", "ord_hard")
    assert (hard["decline_class"], hard["advice"], hard["next_retry_kind"]) == (
        "hard",
        "use_another_payment_method",
        "another_method",
    )
    (too_late,) = of("order.payment_failed", "ord_late_fail")
    assert (too_late["retry_planned"], too_late["next_retry_at"], too_late["advice"]) == (
        False,
        None,
        "no_retry",
    )
    soft_links = of("payment.retry_link", "ord_soft")
    assert [(p["retry"], p["max_retries"], p["channel"]) for p in soft_links] == [
        (n, 3, "link") for n in (1, 2, 3)
    ]
    (hard_link,) = of("payment.retry_link", "ord_hard")
    assert (hard_link["reason"], hard_link["retry"]) == ("use_another_payment_method", 1)
    assert [p["state"] for p in of("order.processing", "ord_async")] == ["processing"]
    assert of("order.paid", "ord_async")
    receipts = [p for t, p in messages if t == "receipt.generated"]
    assert {p["fetch_path"] for p in receipts if p["order_id"] == "ord_paid"} == {
        "/v1/orders/ord_paid/receipt"
    }
    assert {p["kind"] for p in receipts} == {"receipt", "credit_note"}
    assert of("order.expired", "ord_exp") and of("order.expired", "ord_late_fail")
    assert [p["state"] for p in of("order.disputed", "ord_won")] == ["disputed"]
    assert of("order.dispute_won", "ord_won") and of("order.dispute_lost", "ord_lost")
