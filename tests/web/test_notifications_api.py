"""The notification API over HTTP: the pull feed (app token, support may read) pages every
message exactly once while writers commit out of order, on SQLite and PostgreSQL; the endpoint
API (admin token only) shows a secret once and never logs it."""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from paywindow.clock import SystemClock
from paywindow.errors import ConfigError
from paywindow.notify import get_endpoint
from paywindow.notify.catalogue import TOPICS
from paywindow.observability import JsonFormatter, RedactingFilter
from paywindow.store.outbox import write_message
from paywindow.stripe_ids import new_id
from paywindow.web.app import create_app
from paywindow.web.orders import OrdersService
from tests.web.conftest import recorder_config, serve_in_thread
from tests.world import SUPPORT_TOKEN, TOKEN, policy

ADMIN = "test-admin-" + new_id("t", 16)


@dataclass
class Api:
    url: str
    service: OrdersService

    def call(self, method: str, path: str, token: str | None = TOKEN, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.call(method, path, token=ADMIN, **kw)


def _service(engine: Engine, **overrides: Any) -> OrdersService:
    values: dict[str, Any] = {
        "engine": engine,
        "client": None,
        "policy": policy(),
        "clock": SystemClock(),
        "token": TOKEN,
        "support_token": SUPPORT_TOKEN,
        "admin_token": ADMIN,
    }
    values.update(overrides)
    return OrdersService(**values)


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    service = _service(engine)
    for url in serve_in_thread(create_app(recorder_config(engine, orders=service))):
        yield Api(url, service)


def _write(engine: Engine, *keys: str, hold: float = 0.0) -> None:
    """Messages in one transaction, committed ``hold`` seconds after they took their ids."""
    with engine.begin() as conn:
        for key in keys:
            write_message(
                conn,
                topic="order.paid",
                dedupe_key=key,
                payload={"order_id": key, "state": "paid"},
                now=datetime.now(UTC),
                order_id=key,
            )
        time.sleep(hold)


# -- the feed ---------------------------------------------------------------------------


def test_the_feed_pages_in_order_with_a_cursor(api: Api) -> None:
    _write(api.service.engine, *(f"ord_{n}" for n in range(5)))
    first = api.call("GET", "/v1/notifications?limit=2")
    assert first.status_code == 200, first.text
    page = first.json()
    assert [m["order_id"] for m in page["data"]] == ["ord_0", "ord_1"]
    assert page["has_more"] is True
    assert page["next_cursor"] == page["data"][-1]["seq"]
    message = page["data"][0]
    assert set(message) == {"id", "type", "timestamp", "seq", "order_id", "data"}
    assert message["id"].startswith("msg_") and message["type"] == "order.paid"
    assert message["data"] == {"order_id": "ord_0", "state": "paid"}

    rest = api.call("GET", f"/v1/notifications?after={page['next_cursor']}&limit=500").json()
    assert [m["order_id"] for m in rest["data"]] == ["ord_2", "ord_3", "ord_4"]
    assert rest["has_more"] is False
    empty = api.call("GET", f"/v1/notifications?after={rest['next_cursor']}").json()
    assert empty == {"data": [], "next_cursor": rest["next_cursor"], "has_more": False}
    assert api.call("GET", "/v1/notifications", token=SUPPORT_TOKEN).json()["data"] == (
        page["data"] + rest["data"]
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("after=-1", "after"),
        ("after=abc", "after"),
        ("after=1.5", "after"),
        (f"after={2**63}", "after"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
    ],
)
def test_a_bad_cursor_or_limit_is_422_naming_it(api: Api, query: str, field: str) -> None:
    answer = api.call("GET", f"/v1/notifications?{query}")
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == field


def test_the_feed_takes_the_app_or_support_token(api: Api) -> None:
    assert api.call("GET", "/v1/notifications", token=None).status_code == 401
    assert api.call("GET", "/v1/notifications", token="wrong").status_code == 401
    refused = api.admin("GET", "/v1/notifications")
    assert refused.status_code == 403
    assert "PAYWINDOW_ADMIN_TOKEN" in refused.json()["error"]["message"]


def test_paging_while_writers_commit_out_of_order_sees_every_message_once(api: Api) -> None:
    engine, writers, per_writer = api.service.engine, 4, 12
    done = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            for i in range(per_writer):
                # some transactions hold their ids while later ones commit first
                _write(engine, f"w{n}_{i}", hold=rng.choice([0, 0, 0.02, 0.08]))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    seen: list[dict[str, Any]] = []
    cursor, quiet = 0, 0

    def watch() -> None:
        for thread in threads:
            thread.join()
        done.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    while quiet < 2:  # two empty pages after the writers finished
        page = api.call("GET", f"/v1/notifications?after={cursor}&limit=5").json()
        seen.extend(page["data"])
        assert page["next_cursor"] >= cursor
        cursor = page["next_cursor"]
        quiet = quiet + 1 if done.is_set() and not page["data"] else 0
        if not page["has_more"]:
            time.sleep(0.01)
    watcher.join()
    assert errors == []
    keys = [m["order_id"] for m in seen]
    expected = {f"w{n}_{i}" for n in range(writers) for i in range(per_writer)}
    assert len(keys) == len(set(keys)), "a message was seen twice"
    assert set(keys) == expected, f"missed: {sorted(expected - set(keys))}"
    seqs = [m["seq"] for m in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


# -- endpoints (admin) --------------------------------------------------------------------


def test_an_endpoint_shows_its_secret_once_and_never_in_a_log(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    try:
        created = api.admin(
            "POST",
            "/v1/notification_endpoints",
            json={"url": "https://m.example/hooks", "topics": ["order.paid", "order.expired"]},
        )
        assert created.status_code == 201, created.text
        endpoint = created.json()
        secret = endpoint["secret"]
        assert secret.startswith("whsec_")
        assert endpoint["topics"] == ["order.expired", "order.paid"]
        assert endpoint["status"] == "enabled" and endpoint["description"] is None
        path = f"/v1/notification_endpoints/{endpoint['id']}"

        listed = api.admin("GET", "/v1/notification_endpoints").json()["data"]
        assert [e["id"] for e in listed] == [endpoint["id"]]
        shown = api.admin("GET", path).json()
        assert "secret" not in listed[0] and "secret" not in shown
        assert shown == {k: v for k, v in endpoint.items() if k != "secret"}

        rotated = api.admin("POST", path + "/rotate_secret")
        assert rotated.status_code == 200
        new_secret = rotated.json()["secret"]
        assert new_secret.startswith("whsec_") and new_secret != secret
        stored = get_endpoint(api.service.engine, endpoint["id"])
        assert stored.secret == new_secret and stored.previous_secret == secret
        assert "secret" not in api.admin("GET", path).json()
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert caplog.records, "nothing was logged: the check would prove nothing"
    secrets = (secret, new_secret)
    # what paywindow, uvicorn, FastAPI and httpx log never holds a secret, even raw; only
    # SQLAlchemy's own DEBUG dump of result rows does, and the redacting handler masks it
    rows = [r for r in caplog.records if r.name.startswith("sqlalchemy") and r.msg == "Row %r"]
    assert rows, "the check would not see SQLAlchemy's row dumps"
    raw = [r for r in caplog.records if r not in rows]
    assert not [r.getMessage() for r in raw if any(s in _everything(r) for s in secrets)]
    # and the production handler (RedactingFilter + JsonFormatter) prints none of them
    for record in caplog.records:
        line = copy.copy(record)
        if not RedactingFilter().filter(line):
            continue  # dropped (SQLAlchemy's result rows): never printed
        printed = JsonFormatter().format(line)
        assert not any(s in printed for s in secrets), printed


def _everything(record: logging.LogRecord) -> str:
    return record.getMessage() + str(record.args) + str(record.__dict__)


def test_disable_and_enable(api: Api) -> None:
    made = api.admin("POST", "/v1/notification_endpoints", json={"url": "http://m.example/h"})
    path = f"/v1/notification_endpoints/{made.json()['id']}"
    off = api.admin("POST", path + "/disable", json={"reason": "maintenance"})
    assert off.status_code == 200, off.text
    assert (off.json()["status"], off.json()["disabled_reason"]) == ("disabled", "maintenance")
    assert "secret" not in off.json()
    on = api.admin("POST", path + "/enable").json()
    assert (on["status"], on["disabled_reason"]) == ("enabled", None)
    quiet = api.admin("POST", path + "/disable").json()  # no body: a default reason
    assert quiet["status"] == "disabled" and quiet["disabled_reason"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://m.example/h"}, "url"),
        ({"url": "https://"}, "url"),
        ({"url": "https://m.example/h", "topics": ["order.nope"]}, "topics"),
        ({"url": "https://m.example/h", "topics": []}, "topics"),
        ({"url": "https://m.example/h", "topics": ["order.paid\x00"]}, "topics"),
        ({"url": "https://m.example/h", "description": "a\x07b"}, "description"),
        ({"url": "https://m.example/h", "secret": "whsec_mine"}, "secret"),
        ({}, "url"),
    ],
)
def test_bad_endpoint_bodies_are_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    answer = api.admin("POST", "/v1/notification_endpoints", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert api.admin("GET", "/v1/notification_endpoints").json()["data"] == []


def test_every_catalogue_topic_is_accepted(api: Api) -> None:
    made = api.admin(
        "POST", "/v1/notification_endpoints", json={"url": "https://m.example/h", "topics": TOPICS}
    )
    assert made.status_code == 201 and made.json()["topics"] == sorted(TOPICS)


def test_unknown_endpoints_are_404(api: Api) -> None:
    for path in ("/ep_" + "x" * 24, "/ep_nope", "/ep_" + "x" * 24 + "/enable"):
        method = "POST" if path.endswith("enable") else "GET"
        answer = api.admin(method, "/v1/notification_endpoints" + path)
        assert answer.status_code == 404, path
    assert (
        api.admin("POST", f"/v1/notification_endpoints/ep_{'y' * 24}/rotate_secret").status_code
        == 404
    )


def test_endpoints_take_the_admin_token_only(api: Api) -> None:
    for token, status in ((None, 401), ("wrong", 401), (TOKEN, 403), (SUPPORT_TOKEN, 403)):
        answer = api.call("GET", "/v1/notification_endpoints", token=token)
        assert answer.status_code == status, token
    refused = api.call("POST", "/v1/notification_endpoints", json={"url": "https://m.example"})
    assert refused.status_code == 403
    assert "PAYWINDOW_ADMIN_TOKEN" in refused.json()["error"]["message"]
    assert api.admin("GET", "/v1/orders/ord_x").status_code == 403
    assert api.admin("GET", "/v1/openapi.json").status_code == 200


def test_without_an_admin_token_the_endpoint_routes_are_401(api: Api) -> None:
    api.service.admin_token = None
    assert api.admin("GET", "/v1/notification_endpoints").status_code == 401
    assert api.call("GET", "/v1/notification_endpoints", token="").status_code == 401


def test_the_admin_token_must_differ_from_the_others(engine: Engine) -> None:
    with pytest.raises(ConfigError, match="PAYWINDOW_ADMIN_TOKEN"):
        _service(engine, admin_token=TOKEN)
    with pytest.raises(ConfigError, match="PAYWINDOW_ADMIN_TOKEN"):
        _service(engine, admin_token=SUPPORT_TOKEN)
