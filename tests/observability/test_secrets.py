"""No secret, buyer email or card data in any log line, through a realistic morning at DEBUG,
with SQLAlchemy's and the Stripe SDK's own logs turned on."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import stripe
from sqlalchemy import Engine, event

from paywindow.payments.expiry import close_overdue
from tests import factories as f
from tests.world import TOKEN, build_world

CARD = "4000056655665556"
CARD_FORMS = [CARD] + [
    sep.join(CARD[i : i + 4] for i in range(0, 16, 4)) for sep in (" ", "+", "%20", "-", ".", "_")
]
EMAILS = ["jane.doe+vinyl@example.com", "o.brien@mail.example.org", "lost@example.net"]
ANY_EMAIL = re.compile(r"[\w.+'-]+(?:@|%40)[A-Za-z0-9-]+\.[A-Za-z]")


def _buyer(email: str) -> dict[str, Any]:
    return {"id": "u_9", "email": email, "customer": None}


@contextmanager
def _failing_order_inserts(engine: Engine) -> Iterator[None]:
    """The database fails the next order INSERT (a disk error, raised at the driver boundary,
    so SQLAlchemy wraps it with the statement as it would a real one)."""
    dbapi_error = engine.dialect.loaded_dbapi.OperationalError

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO orders"):
            raise dbapi_error("disk I/O error")

    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", fail)


def _a_morning(engine: Engine) -> str:
    """Orders with buyer emails, a card number typed into a line item, a paid and a declined
    payment, a database failure, a bad token, a forged webhook, an expiry run."""
    with build_world(engine) as world:
        note = [{"name": f"Gift note: {CARD_FORMS[1]}", "unit_amount": 2500, "quantity": 1}]
        paid = world.create("ord_secret_paid", buyer=_buyer(EMAILS[0]), line_items=note).json()
        world.sandbox.pay(paid["session_id"], "success")
        world.create("ord_secret_declined", buyer=_buyer(EMAILS[1]))
        declined = world.api("GET", "/v1/orders/ord_secret_declined").json()
        world.sandbox.pay(declined["session_id"], "decline", decline_code="insufficient_funds")
        world.settle()
        with _failing_order_inserts(world.engine):
            failed = world.create("ord_secret_db_error", buyer=_buyer(EMAILS[2]))
        assert failed.status_code >= 500, failed.text
        world.api("POST", "/v1/orders/ord_secret_paid/checkout")  # 409: paid
        httpx.get(world.url + "/v1/orders/ord_secret_paid", headers={"Authorization": "Bearer x"})
        body = f.body_of(f.event("checkout.session.completed", f.session("ord_x")))
        forged = stripe.WebhookSignature.generate_signature_header(
            body.decode(), "whsec_forged", timestamp=int(time.time())
        )
        httpx.post(
            world.url + "/webhooks/stripe", content=body, headers={"Stripe-Signature": forged}
        )
        world.advance(24 * 3600 + 1)
        close_overdue(world.engine, world.clock.now())
        return world.sandbox.api_key


def test_logs_hold_no_secrets_emails_or_card_data(
    engine: Engine, library_debug_logs: io.StringIO
) -> None:
    api_key = _a_morning(engine)
    logs = library_debug_logs.getvalue()
    # The data did reach the logs (and was masked there): otherwise the test would prove little.
    assert logs.count("\n") > 50, "the flow logged (almost) nothing"
    for seen in (
        "INSERT INTO orders",  # SQLAlchemy's engine log
        "disk I/O error",  # the database failure, with its statement
        "Gift+note%3A+[REDACTED]",  # the Stripe SDK's form-encoded request body
        "***@example.com",
    ):
        assert seen in logs, f"{seen!r} never logged: the test would prove little"
    for needle in (api_key, TOKEN, "whsec_", "sk_test_", "Bearer ", "client_secret", "v1=", "v0="):
        assert needle not in logs, needle
    for needle in [*CARD_FORMS, *EMAILS, *(e.replace("@", "%40") for e in EMAILS)]:
        assert needle not in logs, needle
    assert not ANY_EMAIL.findall(logs.replace("***@", "").replace("***%40", ""))


def test_every_token_is_masked_and_sqlalchemy_rows_are_dropped() -> None:
    import logging

    from paywindow.observability import RedactingFilter, secret_values
    from paywindow.settings import load_settings

    tokens = {"api_token": "app-" + "a" * 20, "support_token": "sup-" + "s" * 20}
    tokens["admin_token"] = "adm-" + "d" * 20
    literals = secret_values(load_settings(**tokens))
    assert set(tokens.values()) <= set(literals)
    redact = RedactingFilter(literals)
    said = logging.LogRecord(
        "paywindow.x", logging.INFO, "f", 1, "token %s", (tokens["admin_token"],), None
    )
    assert redact.filter(said) and tokens["admin_token"] not in said.getMessage()
    row = logging.LogRecord(
        "sqlalchemy.engine.Engine", logging.DEBUG, "f", 1, "Row %r", (("ep_1", "whsec_x"),), None
    )
    assert redact.filter(row) is False  # result rows never reach a handler
