"""The notification API: the pull feed (``GET /v1/notifications``) and the webhook endpoints
(``/v1/notification_endpoints``).

``install_orders_api`` mounts :data:`feed_router` behind the app token (support may read) and
:data:`endpoints_router` behind the admin token (``PAYWINDOW_ADMIN_TOKEN``); both read the
``OrdersService`` from ``request.app.state.orders``. The work is in :mod:`paywindow.notify`.

A secret leaves paywindow once: in the answer that made it (adding an endpoint, rotating its
secret). Nothing here logs an endpoint, a body or a secret; listings never carry one.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from paywindow.errors import InvalidRequest, NotFound
from paywindow.notify import (
    add_endpoint,
    disable_endpoint,
    enable_endpoint,
    endpoint_view,
    get_endpoint,
    list_endpoints,
    read_feed,
    rotate_secret,
)
from paywindow.notify.catalogue import TOPICS
from paywindow.web.orders_schema import (
    ENDPOINT_ID_PATTERN,
    MAX_CURSOR,
    EndpointCreated,
    EndpointList,
    EndpointView,
    FeedPage,
    errors,
)

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "endpoints_router", "feed_router"]

DEFAULT_LIMIT, MAX_LIMIT = 100, 500
_KNOWN_TOPICS = frozenset(TOPICS)
_ENDPOINT_ID = re.compile(ENDPOINT_ID_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

feed_router = APIRouter(prefix="/v1/notifications")
endpoints_router = APIRouter(prefix="/v1/notification_endpoints")


# -- the pull feed ------------------------------------------------------------------------


def _integer(request: Request, name: str, default: int, low: int, high: int, what: str) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,19}", raw) or not low <= int(raw) <= high:
        raise InvalidRequest(f"{name} must be {what}", field=name)
    return int(raw)


_FEED_PARAMETERS = [
    {
        "name": "after",
        "in": "query",
        "required": False,
        "description": "The cursor: `next_cursor` of the previous page (0, the default, is "
        "the beginning). Messages with a feed position above it are returned.",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_CURSOR, "default": 0},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"At most this many messages (1 to {MAX_LIMIT}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100},
    },
]


@feed_router.get(
    "",
    response_model=None,
    openapi_extra={"parameters": _FEED_PARAMETERS},
    responses={
        200: {"model": FeedPage, "description": "Messages after the cursor, in feed order."},
        **errors(
            401, 403, 413, 422, 503, e422="`after` or `limit` is not allowed; `field` names it."
        ),
    },
)
def notification_feed(request: Request) -> dict[str, Any]:
    """The notifications after ``after``, oldest first: every message exactly once, in a
    stable order, with the payloads the webhooks carry."""
    after = _integer(request, "after", 0, 0, MAX_CURSOR, "a cursor from next_cursor (an integer)")
    limit = _integer(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, f"from 1 to {MAX_LIMIT}")
    messages = read_feed(request.app.state.orders.engine, after=after, limit=limit + 1)
    page = messages[:limit]
    return {
        "data": page,
        "next_cursor": page[-1]["seq"] if page else after,
        "has_more": len(messages) > limit,
    }


# -- webhook endpoints (admin) ------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and (found := _CONTROL.search(text)):
                raise ValueError(f"contains a control character (U+{ord(found.group()):04X})")
        return value


class EndpointIn(_Body):
    url: str = Field(min_length=1, max_length=2048, description="http(s), with a host.")
    topics: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=len(TOPICS),
        description="Topics from the catalogue (order.paid, order.expired, ...); omit for all.",
    )
    description: str | None = Field(default=None, max_length=255)

    @field_validator("topics")
    @classmethod
    def _known(cls, topics: list[str] | None) -> list[str] | None:
        if topics is not None and (unknown := sorted(set(topics) - _KNOWN_TOPICS)):
            raise ValueError(f"unknown topic(s): {', '.join(unknown)}")
        return topics


class DisableIn(_Body):
    reason: str | None = Field(default=None, max_length=255)


def _endpoint_id(endpoint_id: str) -> str:
    if not _ENDPOINT_ID.fullmatch(endpoint_id):
        raise NotFound(f"no notification endpoint: endpoint ids match {ENDPOINT_ID_PATTERN}")
    return endpoint_id


_NO_ENDPOINT = "No such notification endpoint."
_CREATED: dict[int | str, Any] = {
    201: {"model": EndpointCreated, "description": "Added; its secret, shown this once."},
}


@endpoints_router.post(
    "",
    status_code=201,
    response_model=None,
    responses={**_CREATED, **errors(400, 401, 403, 413, 422, 503)},
)
def create_endpoint(body: EndpointIn, request: Request) -> JSONResponse:
    """Add a webhook endpoint; the answer carries its signing secret, never shown again."""
    service = request.app.state.orders
    endpoint = add_endpoint(
        service.engine,
        body.url,
        service.clock.now(),
        topics=body.topics,
        description=body.description,
        known_topics=_KNOWN_TOPICS,
    )
    return JSONResponse(endpoint_view(endpoint, with_secret=True), status_code=201)


@endpoints_router.get(
    "", response_model=None, responses={200: {"model": EndpointList}, **errors(401, 403, 503)}
)
def list_all(request: Request) -> dict[str, Any]:
    """Every endpoint, oldest first, without secrets."""
    return {"data": [endpoint_view(e) for e in list_endpoints(request.app.state.orders.engine)]}


@endpoints_router.get(
    "/{endpoint_id}",
    response_model=None,
    responses={200: {"model": EndpointView}, **errors(401, 403, 404, 503, e404=_NO_ENDPOINT)},
)
def get_one(endpoint_id: str, request: Request) -> dict[str, Any]:
    """One endpoint, without its secret."""
    engine = request.app.state.orders.engine
    return endpoint_view(get_endpoint(engine, _endpoint_id(endpoint_id)))


@endpoints_router.post(
    "/{endpoint_id}/disable",
    response_model=None,
    responses={
        200: {"model": EndpointView, "description": "Disabled: messages wait for it."},
        **errors(400, 401, 403, 404, 413, 422, 503, e404=_NO_ENDPOINT),
    },
)
def disable(endpoint_id: str, request: Request, body: DisableIn | None = None) -> dict[str, Any]:
    """Stop delivering to the endpoint; its messages wait and go out once it is enabled."""
    service = request.app.state.orders
    reason = (body.reason if body else None) or "disabled through the API"
    endpoint = disable_endpoint(
        service.engine, _endpoint_id(endpoint_id), service.clock.now(), reason
    )
    return endpoint_view(endpoint)


@endpoints_router.post(
    "/{endpoint_id}/enable",
    response_model=None,
    responses={
        200: {"model": EndpointView, "description": "Enabled: waiting messages go out."},
        **errors(401, 403, 404, 413, 503, e404=_NO_ENDPOINT),
    },
)
def enable(endpoint_id: str, request: Request) -> dict[str, Any]:
    """Deliver to the endpoint again (its failure streak forgotten)."""
    return endpoint_view(
        enable_endpoint(request.app.state.orders.engine, _endpoint_id(endpoint_id))
    )


@endpoints_router.post(
    "/{endpoint_id}/rotate_secret",
    response_model=None,
    responses={
        200: {
            "model": EndpointCreated,
            "description": "The new secret, shown this once; the old one signs beside it "
            "for 24 hours.",
        },
        **errors(401, 403, 404, 413, 503, e404=_NO_ENDPOINT),
    },
)
def rotate(endpoint_id: str, request: Request) -> dict[str, Any]:
    """A new signing secret; the previous one keeps signing for 24 hours."""
    service = request.app.state.orders
    endpoint = rotate_secret(service.engine, _endpoint_id(endpoint_id), service.clock.now())
    return endpoint_view(endpoint, with_secret=True)
