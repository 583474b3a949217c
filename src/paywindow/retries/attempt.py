"""Running one claimed retry attempt: an off-session charge of a saved card, or a retry link.

Steps, each safe to repeat:
1. Re-read the order: paid → cancel; window closed → drop; processing → give back for later.
2. Choose the channel from the latest failure's class: soft + a saved card → ``off_session``;
   otherwise (no card, needs the buyer, hard) → ``link``.
3. Reserve the order's next attempt number (once; kept on the retry row), so the state
   machine shows ``payment_failed → awaiting_payment`` ("retry issued").
4. Expire any session still open (never two ways to pay at once), then charge, or create a
   fresh session ending at the deadline and write a ``payment.retry_link`` outbox message.
5. Record the outcome. A Stripe error (:class:`GatewayUnavailable`, or a refusal other than a
   card decline) gives the attempt back unconsumed; the next run tries it again with the
   same idempotency key.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import stripe
from sqlalchemy import Engine, select, update

from paywindow.errors import GatewayError, NotFound
from paywindow.gateway.checkout import (
    create_session,
    with_retries,
)
from paywindow.gateway.intents import (
    OffSessionCharge,
    OffSessionResult,
    charge_off_session,
    find_saved_card,
    payment_intent_customer,
)
from paywindow.payments import (
    AttemptChannel,
    AttemptStatus,
    Change,
    FailureFacts,
    OrderState,
    apply_change,
    checkout_request,
    close_open_sessions,
    session_expires_at,
)
from paywindow.retries.plans import (
    CloseReason,
    RetryKind,
    RetryStatus,
    close_plan,
    release,
)
from paywindow.retries.policy import MAX_ATTEMPTS, DeclineClass, RetryPolicy, classify
from paywindow.store.outbox import write_message
from paywindow.store.tables import attempts, orders, payment_failures, retry_attempts

__all__ = ["RetryOutcome", "execute"]

log = logging.getLogger(__name__)

#: Retry-link sessions end this much before the deadline: a session expired early reports its
#: planned ``expires_at``, and one planned at the deadline would read as the window closing.
_LINK_END_SLACK = timedelta(seconds=5)
#: A reserved session end closer than this cannot be sent to Stripe again (30 min minimum).
_MIN_SESSION = timedelta(minutes=31)


class RetryOutcome(StrEnum):
    """What running one attempt came to. The first four are stored as a ``done`` attempt's
    ``outcome``; cancelled and dropped are the attempt's status; given back is reported only
    (the attempt is scheduled again)."""

    SUCCEEDED = "succeeded"
    PROCESSING = "processing"
    DECLINED = "declined"
    LINK_SENT = "link_sent"
    CANCELLED = "cancelled"
    DROPPED = "dropped"
    GIVEN_BACK = "given_back"


def execute(
    engine: Engine,
    client: stripe.StripeClient,
    policy: RetryPolicy,
    row: dict[str, Any],
    now: datetime,
) -> RetryOutcome | None:
    """Run one claimed attempt; its outcome, or None if it was given back unconsumed."""
    order = _order(engine, row["order_id"])
    state = OrderState(order["state"])
    if order["paid_at"] is not None:
        return _finish(engine, row, now, status=RetryStatus.CANCELLED, reason=CloseReason.PAID)
    if state is OrderState.PAYMENT_MISMATCH:
        held = CloseReason.HELD_FOR_REVIEW
        return _finish(engine, row, now, status=RetryStatus.DROPPED, reason=held)
    if order["window_closed_at"] is not None or now >= order["deadline"]:
        closed = CloseReason.WINDOW_CLOSED
        return _finish(engine, row, now, status=RetryStatus.DROPPED, reason=closed)
    if state is OrderState.PROCESSING:
        release(engine, row["id"], now)
        return None
    try:
        return _attempt(engine, client, policy, row, order, now)
    except GatewayError as exc:
        release(engine, row["id"], now, error=f"{type(exc).__name__}: {exc}")
        return None


def _attempt(
    engine: Engine,
    client: stripe.StripeClient,
    policy: RetryPolicy,
    row: dict[str, Any],
    order: dict[str, Any],
    now: datetime,
) -> RetryOutcome:
    failure = _latest_failure(engine, order["id"])
    kind = classify(failure["code"], failure["decline_code"], failure["advice_code"])
    card = None
    soft = row["kind"] == RetryKind.RETRY and kind is DeclineClass.SOFT
    if soft and row["channel"] != AttemptChannel.LINK:
        card = _saved_card(client, order, failure, now)
    channel = AttemptChannel.OFF_SESSION if card is not None else AttemptChannel.LINK
    link_end = _link_end(now, order["deadline"], policy.checkout.margin)
    number, link_end = _reserve_attempt(engine, row, order, channel, link_end, now)
    # Never two ways to pay at once: every earlier session is closed at Stripe first, and one
    # the buyer already paid (its webhook late) is recorded instead of charging again.
    if close_open_sessions(engine, client, order["id"], policy.checkout, below=number, now=now):
        return _finish(engine, row, now, status=RetryStatus.CANCELLED, reason=CloseReason.PAID)
    if card is not None:
        charge = OffSessionCharge(
            order_id=order["id"],
            attempt=number,
            retry_number=row["number"],
            amount=order["amount_total"],
            currency=order["currency"],
            customer=card.customer,
            payment_method=card.id,
            application_fee_amount=order["application_fee_amount"],
            seller_account=order["seller_account"],
        )
        result = charge_off_session(client, charge)
        return _record_charge(engine, row, number, card.id, result, now)
    return _send_link(engine, client, policy, row, order, number, link_end, now)


def _link_end(now: datetime, deadline: datetime, margin: timedelta) -> datetime:
    end = session_expires_at(now, deadline - _LINK_END_SLACK, margin)
    return end


def _order(engine: Engine, order_id: str) -> dict[str, Any]:
    with engine.connect().execution_options(read_only=True) as conn:
        found = conn.execute(select(orders).where(orders.c.id == order_id)).mappings().first()
    if found is None:
        raise NotFound(f"no order {order_id}")
    return dict(found)


def _latest_failure(engine: Engine, order_id: str) -> dict[str, Any]:
    query = (
        select(payment_failures)
        .where(payment_failures.c.order_id == order_id)
        .order_by(payment_failures.c.failed_at.desc(), payment_failures.c.id.desc())
        .limit(1)
    )
    with engine.connect().execution_options(read_only=True) as conn:
        found = conn.execute(query).mappings().first()
    return (
        dict(found)
        if found is not None
        else {"code": None, "decline_code": None, "advice_code": None, "payment_intent": None}
    )


def _saved_card(
    client: stripe.StripeClient, order: dict[str, Any], failure: dict[str, Any], now: datetime
) -> Any:
    customer = order["customer"]
    if not customer and failure.get("payment_intent"):
        customer = payment_intent_customer(client, failure["payment_intent"])
    if not customer:
        return None
    return find_saved_card(client, customer, now)


def _reserve_attempt(
    engine: Engine,
    row: dict[str, Any],
    order: dict[str, Any],
    channel: AttemptChannel,
    link_end: datetime,
    now: datetime,
) -> tuple[int, datetime]:
    """The order attempt this retry uses and its session end: reserved once, reused when the
    retry runs again (so the same idempotency key carries the very same request)."""
    if row["order_attempt"] is not None and row["channel"] == channel:
        reserved = _reserved_end(engine, order["id"], int(row["order_attempt"]))
        if channel is AttemptChannel.OFF_SESSION:
            return int(row["order_attempt"]), link_end
        if reserved is not None and reserved - now > _MIN_SESSION:
            return int(row["order_attempt"]), reserved
    number = int(order["current_attempt"]) + 1
    expires = link_end if channel is AttemptChannel.LINK else None
    with engine.begin() as conn:
        change = Change(attempt=number, expires_at=expires, attempt_status=AttemptStatus.OPEN)
        apply_change(conn, order["id"], change, now=now, event_id=None)
        conn.execute(
            update(attempts)
            .where(attempts.c.order_id == order["id"], attempts.c.attempt == number)
            .values(channel=channel)
        )
        conn.execute(
            update(retry_attempts)
            .where(retry_attempts.c.id == row["id"])
            .values(order_attempt=number, channel=channel, updated_at=now)
        )
    row.update(order_attempt=number, channel=channel)
    return number, link_end


def _reserved_end(engine: Engine, order_id: str, number: int) -> datetime | None:
    query = select(attempts.c.expires_at).where(
        attempts.c.order_id == order_id, attempts.c.attempt == number
    )
    with engine.connect().execution_options(read_only=True) as conn:
        found: datetime | None = conn.execute(query).scalar()
    return found


def _record_charge(
    engine: Engine,
    row: dict[str, Any],
    number: int,
    payment_method: str,
    result: OffSessionResult,
    now: datetime,
) -> RetryOutcome:
    order_id = row["order_id"]
    if result.status == "succeeded":
        change = Change(
            attempt=number,
            payment_intent=result.payment_intent,
            attempt_status=AttemptStatus.PAID,
            completed_at=result.created or now,
            paid=True,
            charge=result.charge,
            amount_charged=result.amount_received,
        )
        outcome = RetryOutcome.SUCCEEDED
    elif result.status == "processing":
        change = Change(
            attempt=number,
            payment_intent=result.payment_intent,
            attempt_status=AttemptStatus.PROCESSING,
        )
        outcome = RetryOutcome.PROCESSING
    else:
        failure = FailureFacts(
            key=f"{result.payment_intent}:{result.charge or payment_method}",
            attempt=number,
            failed_at=result.created or now,
            payment_intent=result.payment_intent,
            charge=result.charge,
            code=result.code or "authentication_required",
            decline_code=result.decline_code,
            advice_code=result.advice_code,
            message=result.message,
        )
        change = Change(attempt=number, payment_intent=result.payment_intent, failure=failure)
        outcome = RetryOutcome.DECLINED
    with engine.begin() as conn:
        apply_change(conn, order_id, change, now=now, event_id=None)
        _done(
            conn,
            row,
            now,
            outcome=outcome,
            payment_intent=result.payment_intent,
            payment_method=payment_method,
            decline_code=result.decline_code or result.code,
        )
        if outcome is RetryOutcome.SUCCEEDED:
            close_plan(conn, order_id, CloseReason.PAID, now)
    return outcome


def _send_link(
    engine: Engine,
    client: stripe.StripeClient,
    policy: RetryPolicy,
    row: dict[str, Any],
    order: dict[str, Any],
    number: int,
    link_end: datetime,
    now: datetime,
) -> RetryOutcome:
    request = checkout_request(engine, order, number, link_end, policy.checkout)
    session = with_retries(lambda: create_session(client, request))
    with engine.begin() as conn:
        change = Change(attempt=number, session_id=session.id, expires_at=session.expires_at)
        apply_change(conn, order["id"], change, now=now, event_id=None)
        conn.execute(
            update(attempts)
            .where(attempts.c.order_id == order["id"], attempts.c.attempt == number)
            .values(url=session.url, channel=AttemptChannel.LINK)
        )
        _write_link(conn, row, order, number, session.id, session.url, session.expires_at, now)
        _done(conn, row, now, outcome=RetryOutcome.LINK_SENT, session_id=session.id)
    return RetryOutcome.LINK_SENT


def _write_link(
    conn: Any,
    row: dict[str, Any],
    order: dict[str, Any],
    number: int,
    session_id: str,
    url: str | None,
    expires_at: datetime,
    now: datetime,
) -> None:
    """The ``payment.retry_link`` message (schema: ``paywindow/notify/schemas``): retry n of
    three, the order attempt it pays, the link and when it stops working."""
    another = row["kind"] == RetryKind.ANOTHER_METHOD
    write_message(
        conn,
        topic="payment.retry_link",
        dedupe_key=f"payment.retry_link:{order['id']}:{row['number']}",
        payload={
            "order_id": order["id"],
            "retry": row["number"],
            "max_retries": MAX_ATTEMPTS,
            "attempt": number,
            "channel": AttemptChannel.LINK.value,
            "reason": "use_another_payment_method" if another else "retry",
            "url": url,
            "session_id": session_id,
            "expires_at": expires_at.isoformat(),
            "deadline": order["deadline"].isoformat(),
            "amount_total": order["amount_total"],
            "currency": order["currency"],
            "locale": order["locale"],
        },
        now=now,
        order_id=order["id"],
    )


def _done(
    conn: Any, row: dict[str, Any], now: datetime, *, outcome: RetryOutcome, **values: Any
) -> None:
    conn.execute(
        update(retry_attempts)
        .where(retry_attempts.c.id == row["id"])
        .values(
            status=RetryStatus.DONE,
            outcome=outcome,
            executed_at=now,
            claimed_by=None,
            lease_until=None,
            updated_at=now,
            **values,
        )
    )


def _finish(
    engine: Engine,
    row: dict[str, Any],
    now: datetime,
    *,
    status: RetryStatus,
    reason: CloseReason,
) -> RetryOutcome:
    """End the attempt unrun (cancelled or dropped); its status is its outcome."""
    with engine.begin() as conn:
        conn.execute(
            update(retry_attempts)
            .where(retry_attempts.c.id == row["id"])
            .values(status=status, reason=reason, claimed_by=None, lease_until=None, updated_at=now)
        )
    return RetryOutcome(status.value)
