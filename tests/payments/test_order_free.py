"""Property: any permutation of an order's events, with any duplicates, ends in the same state.

Stories are generated (declines, a card or delayed payment, an expiry, refunds, a dispute, late
completion), rendered as Stripe events, and applied once in order and once shuffled with
duplicates. The pure fold is checked on many examples; the real processor on fewer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from functools import reduce
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from paywindow.payments.facts import AttemptFacts, OrderFacts, derive_state, merge
from paywindow.payments.stripe_events import Applies, interpret
from tests import factories as f
from tests.payments.helpers import apply, order

DEADLINE = f.NOW + timedelta(hours=24)
_ids = itertools.count()


@dataclass(frozen=True)
class Story:
    declines: tuple[str, ...]
    payment: str  # none | card | async_ok | async_fail | expired
    late: bool
    refunds: tuple[int, ...]
    dispute: str  # none | open | won | lost


stories = st.builds(
    Story,
    declines=st.lists(
        st.sampled_from(["insufficient_funds", "generic_decline", "stolen_card", "expired_card"]),
        max_size=3,
    ).map(tuple),
    payment=st.sampled_from(["none", "card", "async_ok", "async_fail", "expired"]),
    late=st.booleans(),
    refunds=st.lists(st.integers(min_value=1, max_value=2500), max_size=2).map(
        lambda xs: tuple(sorted(xs))
    ),
    dispute=st.sampled_from(["none", "open", "won", "lost"]),
)


def render(story: Story, oid: str) -> list[dict[str, Any]]:
    """The Stripe events the story produces, in the order Stripe would send them."""
    events = [
        f.event("payment_intent.payment_failed", f.decline(oid, code, n=n), created=f.NOW)
        for n, code in enumerate(story.declines, start=1)
    ]
    done = DEADLINE + timedelta(seconds=5) if story.late else f.NOW + timedelta(hours=1)
    pi = f"pi_{oid}_1"
    if story.payment == "expired":
        expired = f.session(oid, status="expired", expires_at=f.ts(DEADLINE))
        return [*events, f.event("checkout.session.expired", expired, created=DEADLINE)]
    if story.payment == "none":
        return events
    paid_now = story.payment == "card"
    completed = f.session(
        oid, status="complete", payment_status="paid" if paid_now else "unpaid", payment_intent=pi
    )
    events.append(f.event("checkout.session.completed", completed, created=done))
    if story.payment == "async_fail":
        failed = f.event("checkout.session.async_payment_failed", completed, created=done)
        return [*events, failed]
    if story.payment == "async_ok":
        settled = done + timedelta(days=3)
        events.append(
            f.event("checkout.session.async_payment_succeeded", completed, created=settled)
        )
    intent = f.payment_intent(
        oid,
        status="succeeded",
        amount_received=2500,
        latest_charge=f"ch_{oid}_1",
        created=f.ts(done),
    )
    events.append(f.event("payment_intent.succeeded", intent, created=done))
    events.append(f.event("charge.succeeded", f.charge(oid, created=f.ts(done)), created=done))
    for amount in story.refunds:
        refunded = f.charge(
            oid, created=f.ts(done), amount_refunded=amount, refunded=amount == 2500
        )
        events.append(f.event("charge.refunded", refunded, created=done + timedelta(days=1)))
    if story.dispute != "none":
        opened = f.dispute(oid, "needs_response")
        events.append(f.event("charge.dispute.created", opened, created=done + timedelta(days=5)))
    if story.dispute in ("won", "lost"):
        closed = f.dispute(oid, story.dispute)
        events.append(f.event("charge.dispute.closed", closed, created=done + timedelta(days=40)))
    return events


def shuffled_with_duplicates(data: st.DataObject, events: list[dict[str, Any]]) -> list[Any]:
    extra = data.draw(st.lists(st.sampled_from(events), max_size=4)) if events else []
    return data.draw(st.permutations(events + extra))


def fold(events: list[dict[str, Any]], oid: str) -> OrderFacts:
    start = OrderFacts(
        order_id=oid,
        deadline=DEADLINE,
        amount_total=2500,
        currency="usd",
        attempts=(AttemptFacts(attempt=1),),  # planned before its session was created
    )
    changes = [m.change for m in map(interpret, events) if isinstance(m, Applies)]
    return reduce(merge, changes, start)


@given(story=stories, data=st.data())
@settings(max_examples=400, deadline=None)
def test_fold_is_order_free_and_idempotent(story: Story, data: st.DataObject) -> None:
    events = render(story, "ord_p")
    in_order = fold(events, "ord_p")
    assert fold(shuffled_with_duplicates(data, events), "ord_p") == in_order
    assert derive_state(fold(events + events, "ord_p")) == derive_state(in_order)


def _summary(engine: Engine, oid: str) -> tuple[Any, ...]:
    got = order(engine, oid)
    return (
        got["state"],
        got["paid_at"],
        got["amount_refunded"],
        got["dispute_status"],
        got["window_closed_at"],
        tuple((a["attempt"], a["status"], a["completed_at"]) for a in got["attempts"]),
        tuple(sorted(str(fl["decline_code"] or fl["code"]) for fl in got["failures"])),
    )


@given(story=stories, data=st.data())
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_processor_converges_on_any_permutation(
    engine: Engine, story: Story, data: st.DataObject
) -> None:
    n = next(_ids)
    first, second = f"ord_a{n}", f"ord_b{n}"
    f.open_order(engine, first, deadline=DEADLINE)
    f.open_order(engine, second, deadline=DEADLINE)
    apply(engine, *render(story, first))
    for evt in shuffled_with_duplicates(data, render(story, second)):
        apply(engine, {**evt, "id": evt["id"] + "_dup"} if data.draw(st.booleans()) else evt)
    assert _summary(engine, second) == _summary(engine, first)
