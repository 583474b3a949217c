"""Odd input at the order API's edge, over real HTTP on both backends: every answer is a 4xx
naming what is wrong, never a 5xx, and an id that cannot exist never reaches the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from paywindow.store.tables import orders
from tests.world import TOKEN, World, order_body

_JSON = {"Content-Type": "application/json"}


def _order_count(world: World) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(orders)).scalar_one())


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer tökén".encode(), id="utf8"),
        pytest.param(b"Bearer \xff\xfe\x80", id="latin1-bytes"),
        pytest.param(("Bearer " + TOKEN + "é").encode(), id="token-plus-accent"),
        pytest.param("Bearer ✓".encode() * 40, id="long"),
    ],
)
def test_a_non_ascii_token_is_401_not_a_crash(world: World, authorization: bytes) -> None:
    for method, path in (("GET", "/v1/orders/ord_x"), ("POST", "/v1/orders/ord_x/retry")):
        answer = world.api(method, path, headers={"Authorization": authorization})
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthorized"
        assert answer.headers["www-authenticate"] == "Bearer"


_STRING_FIELDS: list[tuple[str, Any]] = [
    ("order_id", lambda b, v: b.update(order_id="ord" + v)),
    ("buyer.id", lambda b, v: b["buyer"].update(id="u" + v)),
    ("buyer.email", lambda b, v: b["buyer"].update(email="b" + v + "@example.com")),
    ("buyer.customer", lambda b, v: b["buyer"].update(customer="cus_" + v)),
    ("seller_account", lambda b, v: b.update(seller_account=b["seller_account"] + v)),
    ("seller_name", lambda b, v: b.update(seller_name="Vinyl" + v + "Shop")),
    ("currency", lambda b, v: b.update(currency="us" + v)),
    ("locale", lambda b, v: b.update(locale="en" + v)),
    ("line_items[0].name", lambda b, v: b["line_items"][0].update(name="Signed" + v + "vinyl")),
]
_CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f", "\ud800"]


def test_control_characters_in_any_string_field_are_422_naming_it(world: World) -> None:
    for field, put in _STRING_FIELDS:
        for char in _CONTROLS:
            body = order_body("ord_ctl", world.seller)
            put(body, char)
            # ASCII-escaped JSON: a lone surrogate cannot be sent as UTF-8
            answer = world.api("POST", "/v1/orders", content=json.dumps(body), headers=_JSON)
            assert answer.status_code == 422, (field, repr(char), answer.text)
            error = answer.json()["error"]
            assert error["field"] == field, (field, repr(char), error)
            assert "control character" in error["message"], error
    assert _order_count(world) == 0
    assert world.create("ord_ctl").status_code == 201  # the same body without them is fine


_IMPOSSIBLE_IDS = [
    pytest.param("ord%00x", id="nul"),
    pytest.param("ord%01x", id="c0"),
    pytest.param("ord%0A", id="trailing-newline"),
    pytest.param("ord%C2%85x", id="c1"),
    pytest.param("x" * 65, id="too-long"),
    pytest.param("ord%20x", id="space"),
    pytest.param("ord.x", id="dot"),
    pytest.param("%C3%B6rd", id="non-ascii"),
]
_ROUTES = [
    ("GET", "/v1/orders/{id}"),
    ("POST", "/v1/orders/{id}/checkout"),
    ("GET", "/v1/orders/{id}/receipt"),
]


@pytest.fixture
def no_database(world: World) -> Iterator[World]:
    """The world with its order API pointed at a database that refuses every connection."""
    real = world.service.engine
    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
    world.service.engine = dead
    yield world
    world.service.engine = real
    dead.dispose()


@pytest.mark.parametrize("order_id", _IMPOSSIBLE_IDS)
def test_path_ids_that_cannot_exist_are_404_without_touching_the_database(
    no_database: World, order_id: str
) -> None:
    world = no_database
    for method, path in _ROUTES:
        answer = world.api(method, path.format(id=order_id))
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "not_found"
    retry = world.support("POST", f"/v1/orders/{order_id}/retry")
    assert retry.status_code == 404, retry.text
    # the control: an id that could exist does reach the (dead) database
    assert world.api("GET", "/v1/orders/ord_fine").status_code in (500, 503)


@pytest.mark.parametrize("order_id", _IMPOSSIBLE_IDS)
def test_path_ids_that_cannot_exist_are_404_on_the_real_database(
    world: World, order_id: str
) -> None:
    for method, path in _ROUTES:
        answer = world.api(method, path.format(id=order_id))
        assert answer.status_code == 404, (method, path, answer.text)
    assert world.support("POST", f"/v1/orders/{order_id}/retry").status_code == 404


def _chunks(total: int, size: int = 4096) -> Iterator[bytes]:
    body = order_body("ord_big", "acct_x")
    body["seller_name"] = "x" * total
    raw = repr(body).encode()  # the content does not matter: the size does
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def test_a_streamed_body_over_the_limit_is_413_like_a_declared_one(world: World) -> None:
    limit = world.service.max_body
    streamed = world.api("POST", "/v1/orders", content=_chunks(limit + 1), headers=_JSON)
    assert "content-length" not in streamed.request.headers  # really chunked
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["error"]["code"] == "too_large"
    declared = world.api("POST", "/v1/orders", content=b"x" * (limit + 1))
    assert declared.status_code == 413
    assert streamed.json() == declared.json()


def test_a_streamed_body_under_the_limit_is_read_whole(world: World) -> None:
    raw = json.dumps(order_body("ord_stream", world.seller)).encode()
    parts = iter([raw[:10], raw[10:50], raw[50:]])
    answer = world.api("POST", "/v1/orders", content=parts, headers=_JSON)
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 201, answer.text
    assert answer.json()["order_id"] == "ord_stream"
