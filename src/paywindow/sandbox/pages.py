"""The hosted payment page at ``/c/pay/{session}``: a tiny HTML form for demos and manual runs.

Submitting the form makes the same buyer attempt as ``/_sandbox/checkout/sessions/{id}/pay``.
Any other path outside ``/v1`` and ``/_sandbox`` answers Stripe's unrecognized-URL 404.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from paywindow.sandbox.buyers import pay_session
from paywindow.sandbox.engine import Ctx
from paywindow.sandbox.outcomes import DECLINES
from paywindow.sandbox.wire import StripeError

if TYPE_CHECKING:
    from paywindow.sandbox.server import Sandbox

__all__ = ["render"]

_HTML = "text/html; charset=utf-8"


def _form(session_id: str, amount: int, currency: str, status: str) -> str:
    options = "".join(
        f'<option value="{code}">decline: {code}</option>' for code in sorted(DECLINES)
    )
    return (
        f"<!doctype html><title>Pay {html.escape(session_id)}</title>"
        f"<h1>Pay {amount / 100:.2f} {html.escape(currency.upper())}</h1>"
        f"<p>Session status: {html.escape(status)}</p>"
        f'<form method="post"><select name="choice"><option value="success">success</option>'
        f'<option value="async">async (settles later)</option>{options}</select>'
        f"<button>Pay</button></form>"
    )


def render(
    sandbox: Sandbox, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes, str]:
    """Serve the hosted page; returns status, body and content type."""
    if not path.startswith("/c/pay/"):
        message = (
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/."
        )
        error = {"error": {"message": message, "type": "invalid_request_error"}}
        return 404, json.dumps(error).encode(), "application/json"
    session_id = path.removeprefix("/c/pay/")
    engine = sandbox.engine
    with engine.lock:
        engine.tick()
        session = engine.store.get(session_id, "checkout.session")
        if session is None:
            return 404, b"<h1>No such checkout session</h1>", _HTML
        if method == "POST":
            choice = dict(parse_qsl(body.decode())).get("choice", "success")
            request = {"outcome": "success"}
            if choice == "async":
                request["async"] = "settle"
            elif choice != "success":
                request = {"outcome": "decline", "decline_code": choice}
            ctx = Ctx(engine.store.platform, None, None, headers.get("host", ""))
            try:
                pay_session(engine, ctx, session_id, request)
            except StripeError as exc:
                return 400, f"<p>{html.escape(str(exc))}</p>".encode(), _HTML
        page = _form(session_id, session["amount_total"], session["currency"], session["status"])
        return 200, page.encode(), _HTML
