"""The relay delivers the outbox to the marketplace over real HTTP, signed, in order, at least
once; failures follow the schedule, 410 disables at once, five failing days disable too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from paywindow import notify
from paywindow.clock import ManualClock
from paywindow.notify.relay import SCHEDULE, RelayConfig
from paywindow.sandbox.marketplace import Fault, Marketplace, running_marketplace
from paywindow.store.outbox import write_message
from paywindow.store.tables import (
    notification_attempts,
    notification_deliveries,
    notification_endpoints,
)
from tests.factories import NOW


@pytest.fixture
def market() -> Iterator[Marketplace]:
    with running_marketplace() as running:
        yield running


def _endpoint(engine: Engine, market: Marketplace, **options: object) -> notify.Endpoint:
    endpoint = notify.add_endpoint(engine, market.url, NOW, **options)  # type: ignore[arg-type]
    market.secrets.append(endpoint.secret)
    return endpoint


def _message(engine: Engine, topic: str, order_id: str, n: int) -> None:
    with engine.begin() as conn:
        write_message(
            conn,
            topic=topic,
            dedupe_key=f"{topic}:{order_id}:{n}",
            payload={"order_id": order_id, "n": n},
            now=NOW,
            order_id=order_id,
        )


def _relay(engine: Engine, clock: ManualClock) -> notify.Relay:
    return notify.Relay(engine, clock, config=RelayConfig(timeout=2.0, workers=4, jitter=0.0))


def _deliveries(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        query = select(notification_deliveries).order_by(notification_deliveries.c.seq)
        return [dict(r) for r in conn.execute(query).mappings()]


def test_a_message_arrives_signed_with_its_stable_id(engine: Engine, market: Marketplace) -> None:
    _endpoint(engine, market)
    _message(engine, "order.paid", "ord_1", 1)
    clock = ManualClock(NOW)
    with _relay(engine, clock) as relay:
        report = relay.run_once()
    assert (report.sequenced, report.queued, report.delivered, report.failed) == (1, 1, 1, 0)
    assert market.rejected == 0
    (got,) = market.received
    assert (got.type, got.order_id, got.data) == (
        "order.paid",
        "ord_1",
        {"order_id": "ord_1", "n": 1},
    )
    assert got.id.startswith("msg_")
    (delivery,) = _deliveries(engine)
    assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == (
        "delivered",
        1,
        200,
    )
    with engine.connect() as conn:
        (attempt,) = conn.execute(select(notification_attempts)).mappings().all()
    assert attempt["status_code"] == 200 and attempt["latency_ms"] is not None


def test_failures_follow_the_schedule_then_the_message_is_dead(
    engine: Engine, market: Marketplace
) -> None:
    _endpoint(engine, market)
    _message(engine, "order.expired", "ord_2", 1)
    market.fail(Fault(status=500))
    clock = ManualClock(NOW)
    waits = []
    with _relay(engine, clock) as relay:
        for _ in SCHEDULE:
            report = relay.run_once()
            assert report.failed == 1
            (delivery,) = _deliveries(engine)
            waits.append((delivery["next_attempt_at"] - clock.now()).total_seconds())  # type: ignore[operator]
            clock.advance(waits[-1])
    assert waits[:-1] == [float(s) for s in SCHEDULE[1:]]
    (delivery,) = _deliveries(engine)
    assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == ("dead", 8, 500)
    assert market.received == []
    with engine.connect() as conn:
        assert len(conn.execute(select(notification_attempts)).all()) == 8
        failing = conn.execute(select(notification_endpoints.c.failing_since)).scalar_one()
    assert failing == NOW


def test_an_order_s_messages_arrive_in_order(engine: Engine, market: Marketplace) -> None:
    _endpoint(engine, market)
    _message(engine, "payment.retry_link", "ord_3", 1)
    _message(engine, "order.paid", "ord_3", 2)
    _message(engine, "order.paid", "ord_other", 1)
    clock = ManualClock(NOW)
    market.fail(Fault(status=503, times=1, match="payment.retry_link"))  # fails once
    with _relay(engine, clock) as relay:
        relay.run_once()
        # the retry link waits 5 s; the paid message of the same order waits behind it
        assert [r.order_id for r in market.received] == ["ord_other"]
        clock.advance(5)
        relay.run_once()
        relay.run_once()
    assert [(r.order_id, r.type) for r in market.received] == [
        ("ord_other", "order.paid"),
        ("ord_3", "payment.retry_link"),
        ("ord_3", "order.paid"),
    ]


def test_410_disables_the_endpoint_and_its_messages_wait(
    engine: Engine, market: Marketplace
) -> None:
    endpoint = _endpoint(engine, market)
    _message(engine, "order.paid", "ord_4", 1)
    market.fail(Fault(status=410, times=1))
    clock = ManualClock(NOW)
    with _relay(engine, clock) as relay:
        relay.run_once()
        assert notify.get_endpoint(engine, endpoint.id).disabled_at == NOW
        (delivery,) = _deliveries(engine)
        assert (delivery["status"], delivery["attempts"]) == ("pending", 0)
        relay.run_once()
        assert market.received == []
        notify.enable_endpoint(engine, endpoint.id)
        relay.run_once()
    assert [r.order_id for r in market.received] == ["ord_4"]


def test_an_endpoint_failing_for_five_days_is_disabled(engine: Engine, market: Marketplace) -> None:
    endpoint = _endpoint(engine, market)
    market.fail(Fault(status=500))
    clock = ManualClock(NOW)
    with _relay(engine, clock) as relay:
        for day in range(6):
            _message(engine, "order.paid", f"ord_d{day}", 1)
            relay.run_once()
            clock.advance(timedelta(days=1).total_seconds())
        report = relay.run_once()
    stored = notify.get_endpoint(engine, endpoint.id)
    assert stored.disabled_at is not None and "5 days" in (stored.disabled_reason or "")
    assert endpoint.id in report.disabled or stored.disabled_at < clock.now()


def test_topics_and_rotation(engine: Engine, market: Marketplace) -> None:
    paid_only = _endpoint(engine, market, topics=["order.paid"])
    rotated = notify.rotate_secret(engine, paid_only.id, NOW)
    market.secrets[:] = [paid_only.secret]  # the receiver still knows only the old secret
    _message(engine, "order.paid", "ord_5", 1)
    _message(engine, "order.expired", "ord_6", 1)
    clock = ManualClock(NOW)
    with _relay(engine, clock) as relay:
        relay.run_once()
        assert [r.type for r in market.received] == ["order.paid"]  # not subscribed to expired
        market.secrets[:] = [rotated.secret]  # the receiver switched to the new secret
        _message(engine, "order.paid", "ord_7", 1)
        clock.advance(timedelta(hours=25).total_seconds())  # the old one no longer signs
        relay.run_once()
    assert market.rejected == 0
    assert [r.order_id for r in market.received] == ["ord_5", "ord_7"]


def test_replay_delivers_the_same_message_id_again(engine: Engine, market: Marketplace) -> None:
    _endpoint(engine, market)
    _message(engine, "order.paid", "ord_8", 1)
    clock = ManualClock(NOW)
    with _relay(engine, clock) as relay:
        relay.run_once()
        (first,) = market.received
        assert notify.replay(engine, clock.now(), message_ids=[int(first.id[4:])]) == 1
        relay.run_once()
    assert market.deliveries[first.id] == 2
    assert len(market.received) == 1  # the receiver dedupes by webhook-id


def test_backlog_and_dead_messages_raise_alerts(engine: Engine, market: Marketplace) -> None:
    from paywindow.health import NOTIFICATIONS_BACKLOG, NOTIFICATIONS_DEAD, notification_signals

    endpoint = _endpoint(engine, market)
    clock = ManualClock(NOW)
    assert notification_signals(engine, clock.now(), timedelta(minutes=10)) == []
    _message(engine, "order.paid", "ord_9", 1)
    market.fail(Fault(status=500))
    with _relay(engine, clock) as relay:
        relay.run_once()
        clock.advance(11 * 60)  # still pending eleven minutes later (retrying): a backlog
        (backlogged,) = notification_signals(engine, clock.now(), timedelta(minutes=10))
        assert backlogged.event == NOTIFICATIONS_BACKLOG
        assert backlogged.payload["pending"] == 1 and backlogged.payload["dead"] == 0
        for _ in SCHEDULE:
            clock.advance(36_000)
            relay.run_once()
        clock.advance(timedelta(days=2).total_seconds())  # five failing days in all
        assert relay.run_once().disabled == [endpoint.id]
    signals = {s.event: s for s in notification_signals(engine, clock.now(), timedelta(days=9))}
    assert signals[NOTIFICATIONS_DEAD].payload["dead"] == 1
    assert signals[NOTIFICATIONS_DEAD].payload["endpoints_disabled"] == [endpoint.id]
    assert NOTIFICATIONS_BACKLOG not in signals  # nothing is pending any more
