"""The retry policy as pure rules: schedule, deadline clipping, the cap, decline classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paywindow.retries.policy import (
    DeclineClass,
    classify,
    plan_attempts,
)
from paywindow.settings import parse_offsets

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOURS = [timedelta(hours=h) for h in (1, 6, 18)]


def test_exact_schedule_after_the_first_failure() -> None:
    failed = T0 + timedelta(minutes=7, seconds=3)
    planned = plan_attempts(failed, T0 + timedelta(hours=24), HOURS, DeclineClass.SOFT)
    assert [(p.number, p.due_at, p.dropped) for p in planned] == [
        (1, failed + timedelta(hours=1), None),
        (2, failed + timedelta(hours=6), None),
        (3, failed + timedelta(hours=18), None),
    ]


@pytest.mark.parametrize(
    ("failed_after", "dropped"),
    [
        pytest.param(timedelta(hours=5), [None, None, None], id="all-fit"),
        pytest.param(timedelta(hours=6), [None, None, "after_deadline"], id="18h-at-deadline"),
        pytest.param(timedelta(hours=20), [None, "after_deadline", "after_deadline"], id="late"),
        pytest.param(timedelta(hours=23, minutes=30), ["after_deadline"] * 3, id="none-fit"),
    ],
)
def test_attempts_at_or_after_the_deadline_are_dropped(
    failed_after: timedelta, dropped: list[str | None]
) -> None:
    planned = plan_attempts(T0 + failed_after, T0 + timedelta(hours=24), HOURS, DeclineClass.SOFT)
    assert [p.dropped for p in planned] == dropped


def test_never_more_than_three_attempts() -> None:
    four = [*HOURS, timedelta(hours=20)]
    assert len(plan_attempts(T0, T0 + timedelta(days=2), four, DeclineClass.SOFT)) == 3
    with pytest.raises(ValueError, match="1 to 3"):
        parse_offsets("1h,2h,3h,4h")
    assert parse_offsets("1h, 90m,3600") == [
        timedelta(hours=1),
        timedelta(minutes=90),
        timedelta(hours=1),
    ]


def test_hard_decline_plans_one_message_now() -> None:
    planned = plan_attempts(T0, T0 + timedelta(hours=24), HOURS, DeclineClass.HARD)
    assert [(p.due_at, p.dropped) for p in planned] == [
        (T0, None),
        (T0 + timedelta(hours=6), "hard_decline"),
        (T0 + timedelta(hours=18), "hard_decline"),
    ]


@pytest.mark.parametrize(
    ("code", "decline", "advice", "expected"),
    [
        pytest.param("card_declined", "insufficient_funds", "try_again_later", "soft", id="nsf"),
        pytest.param("processing_error", "processing_error", None, "soft", id="processing"),
        pytest.param("card_declined", "stolen_card", "do_not_try_again", "hard", id="stolen"),
        pytest.param("card_declined", "fraudulent", None, "hard", id="fraud-no-advice"),
        pytest.param("card_declined", "pickup_card", None, "hard", id="pickup"),
        pytest.param("card_declined", "merchant_blacklist", None, "hard", id="blacklist"),
        pytest.param("card_declined", "generic_decline", "do_not_try_again", "hard", id="advice"),
        pytest.param("expired_card", "expired_card", "confirm_card_data", "buyer", id="expired"),
        pytest.param("authentication_required", None, None, "buyer", id="sca"),
        pytest.param("async_payment_failed", None, None, "buyer", id="bank-debit"),
        pytest.param("card_declined", "something_new", None, "buyer", id="unknown"),
    ],
)
def test_decline_classes(code: str, decline: str | None, advice: str | None, expected: str) -> None:
    assert classify(code, decline, advice) is DeclineClass(expected)
