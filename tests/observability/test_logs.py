"""JSON log lines, their ids, and the redaction filter."""

from __future__ import annotations

import io
import json
import logging

import pytest
from sqlalchemy import Engine

from paywindow.inbox.processor import process_due
from paywindow.observability import redact
from tests import factories as f
from tests.factories import NOW
from tests.payments.helpers import drain


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line]


def test_log_lines_are_json_with_ids(json_logs: io.StringIO) -> None:
    logging.getLogger("paywindow.test").info(
        "hello %s", "there", extra={"order_id": "ord_1", "event_id": "evt_1"}
    )
    (line,) = [x for x in _lines(json_logs) if x["logger"] == "paywindow.test"]
    assert line["message"] == "hello there"
    assert (line["level"], line["order_id"], line["event_id"]) == ("info", "ord_1", "evt_1")
    assert str(line["timestamp"]).endswith("+00:00")


def test_processor_log_lines_carry_event_and_order_ids(
    engine: Engine, json_logs: io.StringIO
) -> None:
    order_id = f.open_order(engine)
    f.record(engine, f.event("checkout.session.completed", f.session(order_id), id="evt_logs"))
    process_due(engine, NOW)
    drain(engine)
    lines = [x for x in _lines(json_logs) if x.get("event_id") == "evt_logs"]
    assert lines and lines[0]["order_id"] == order_id
    assert lines[0]["logger"] == "paywindow.inbox.processor"


CARD = "4242424242424242"


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        pytest.param("key sk_test_51AbCdEf", "sk_test_51AbCdEf", id="secret-key"),
        pytest.param("key sk_live_9xYz", "sk_live_9xYz", id="live-key"),
        pytest.param("restricted rk_live_abc123", "rk_live_abc123", id="restricted-key"),
        pytest.param("secret whsec_abcDEF123", "whsec_", id="webhook-secret"),
        pytest.param("Authorization: Bearer tok-123.abc", "Bearer ", id="bearer"),
        pytest.param("sig t=1700000000,v1=5257a869e7,v0=6ffbb59b2300", "v1=5257", id="signature"),
        pytest.param("{'stripe-signature': 'whatever'}", "whatever", id="signature-header"),
        pytest.param(
            "'... (8 characters truncated) ... 08fdf89a0d0807f1e457f3fc13,v0=2cac2066c87dc385f2ac'",
            "2cac2066",
            id="truncated-signature",
        ),
        pytest.param(
            "'... (8 characters truncated) ... 08fdf89a0d0807f1e457f3fc13,v0=2cac2066c87dc385f2ac'",
            "08fdf89a",
            id="truncated-signature-tail",
        ),
        pytest.param('{"client_secret": "pi_3Mt_secret_YrKJUK"}', "client_secret", id="cs"),
        pytest.param("pi_3MtwBw_secret_YrKJUKribcBjcG8", "_secret_", id="cs-value"),
        pytest.param(f"card {CARD} declined", CARD, id="card"),
        pytest.param("card 4242 4242 4242 4242", "4242 4242 4242 4242", id="card-spaced"),
        pytest.param("card 5555-5555-5555-4444", "5555-5555-5555-4444", id="card-dashed"),
    ],
)
def test_redaction_masks_secrets_and_cards(text: str, leaked: str) -> None:
    assert leaked not in redact(text)
    assert "[REDACTED]" in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("order ord_123 paid 2500 usd", id="plain"),
        pytest.param("created 1700000000", id="unix-time"),
        pytest.param("number 4242424242424241", id="not-luhn"),
        pytest.param("evt_1234567890123456789", id="stripe-id"),
        pytest.param("created=1764331200&expires_at=1764417600", id="unix-times-form"),
        pytest.param("at 1764331200006 ms", id="luhn-valid-millis"),
        pytest.param("took 1764331200.123456", id="luhn-valid-float"),
        pytest.param("2026-11-28 12:00:00.123456", id="datetime"),
        pytest.param("amount_total=2500&application_fee_amount=300", id="amounts"),
        pytest.param("2500 300 2200 usd", id="amount-list"),
        pytest.param("pi_3QxYz4000056655665556Ab", id="pi-id-with-digits"),
        pytest.param("ord_4000056655665556", id="order-id-with-digits"),
        pytest.param("req 12345678-1234-5678-1234-567812345678", id="uuid-digits"),
        pytest.param("postgresql+psycopg://postgres@127.0.0.1:5432/paywindow", id="db-url"),
        pytest.param("retry @ 12:00, ask ops@", id="at-sign"),
    ],
)
def test_redaction_keeps_ordinary_text(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("4000+0566+5566+5556", id="plus"),
        pytest.param("4000%200566%205566%205556", id="percent-20"),
        pytest.param("4000.0566.5566.5556", id="dots"),
        pytest.param("4000_0566_5566_5556", id="underscores"),
        pytest.param("3782+822463+10005", id="amex-plus"),
        pytest.param("6011%201111%201111%201117", id="discover-percent-20"),
        pytest.param("4000056655665556", id="unbroken"),
        pytest.param("4000-0566-5566-5556", id="dashes"),
    ],
)
def test_redaction_masks_card_numbers_with_any_separator(number: str) -> None:
    form = f"card[number]={number}&card[cvc]=123&amount=2500"
    assert redact(form) == "card[number]=[REDACTED]&card[cvc]=123&amount=2500"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "note=card%204000056655665556%20thanks",
            "note=card%20[REDACTED]%20thanks",
            id="after-20",
        ),
        pytest.param(
            "name=Gift+note%3A+4000+0566+5566+5556", "name=Gift+note%3A+[REDACTED]", id="form-text"
        ),
        pytest.param(
            "card 4000056655665556 exp 12 2030", "card [REDACTED] exp 12 2030", id="then-numbers"
        ),
    ],
)
def test_redaction_masks_card_numbers_inside_encoded_text(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("buyer jane.doe@example.com paid", "buyer ***@example.com paid", id="plain"),
        pytest.param(
            "customer_email=jane.doe%2Bvinyl%40example.com&mode=payment",
            "customer_email=***%40example.com&mode=payment",
            id="form-encoded",
        ),
        pytest.param(
            '{"email": "Jane_Doe@mail.example.co.uk"}',
            '{"email": "***@mail.example.co.uk"}',
            id="json",
        ),
        pytest.param(
            "DETAIL:  Failing row contains (ord_1, u_9, o'brien@example.org, null).",
            "DETAIL:  Failing row contains (ord_1, u_9, ***@example.org, null).",
            id="postgres-detail",
        ),
    ],
)
def test_redaction_masks_emails_keeping_the_domain(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_filter_redacts_args_extras_and_tracebacks(json_logs: io.StringIO) -> None:
    log = logging.getLogger("paywindow.test")
    try:
        raise ValueError("bad key sk_test_123abc")
    except ValueError:
        log.exception("failed with %s", "whsec_zzz", extra={"header": "Bearer abc"})
    text = json_logs.getvalue()
    assert "sk_test_" not in text and "whsec_" not in text and "Bearer " not in text
    assert "ValueError" in text


def test_the_filter_redacts_nested_extras(json_logs: io.StringIO) -> None:
    buyer = {"id": "u_9", "emails": ["jane@example.com"], "card": "4000+0566+5566+5556"}
    logging.getLogger("paywindow.test").info("buyer", extra={"buyer": buyer})
    (line,) = [x for x in _lines(json_logs) if x["logger"] == "paywindow.test"]
    assert line["buyer"] == {"id": "u_9", "emails": ["***@example.com"], "card": "[REDACTED]"}
    assert buyer["emails"] == ["jane@example.com"], "the caller's value was changed"
