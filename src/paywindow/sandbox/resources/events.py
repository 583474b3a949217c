"""Events (retrieve, list) and webhook endpoints (create, retrieve, update, list, delete).

Events are kept for ``config.event_retention_days`` of sandbox time (30 by default), then pruned:
they vanish from lists and retrieving them answers 404.
"""

from __future__ import annotations

from collections.abc import Callable

from paywindow.sandbox.engine import Ctx, Engine, route
from paywindow.sandbox.wire import (
    Obj,
    as_bool,
    coerce_list,
    created_filter,
    invalid,
    missing,
    paginate,
    reject_unknown,
    update_metadata,
)
from paywindow.stripe_ids import new_id

__all__ = ["create_endpoint"]


def _type_filter(params: Obj) -> Callable[[str], bool]:
    one, many = params.get("type"), coerce_list(params.get("types"))
    if one and many:
        raise invalid("You may only specify one of these parameters: type, types.")
    if len(many) > 20:
        raise invalid("You may specify at most 20 types.", "types")
    if many:
        wanted = set(many)
        return lambda t: t in wanted
    if one and str(one).endswith("*"):
        prefix = str(one)[:-1]
        return lambda t: t.startswith(prefix)
    if one:
        return lambda t: t == one
    return lambda _t: True


@route("GET", "/v1/events")
def _list(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    in_range, type_ok = created_filter(params), _type_filter(params)
    success = params.get("delivery_success")
    wanted = None if success is None else as_bool(success, "delivery_success")
    platform = ctx.account == engine.store.platform
    items = [
        e
        for e in engine.store.newest_first("event", None)
        if (e.get("account") is None if platform else e.get("account") == ctx.account)
        and type_ok(e["type"])
        and in_range(e)
        and (wanted is None or _delivery_state(engine, e["id"]) == wanted)
    ]
    return paginate(items, params, "/v1/events", engine.store.position)


def _delivery_state(engine: Engine, event_id: str) -> bool | None:
    """True once delivered, False while pending or failed, None when no endpoint wanted it."""
    extra = engine.store.internal.get(event_id) or {}
    if extra.get("delivered"):
        return True
    return False if extra.get("webhooks") else None


@route("GET", "/v1/events/{id}")
def _retrieve(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "event", None, "id")


def create_endpoint(
    engine: Engine,
    url: str,
    events: list[str],
    at: int,
    *,
    secret: str | None = None,
    connect: bool = False,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Obj:
    """Register a webhook endpoint; the returned object includes its ``secret``."""
    endpoint: Obj = {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": None,
        "application": None,
        "created": at,
        "description": description,
        "enabled_events": events,
        "livemode": False,
        "metadata": metadata or {},
        "status": "enabled",
        "url": url,
    }
    signing_secret = secret or new_id("whsec", 32)
    engine.store.add(endpoint, internal={"secret": signing_secret, "connect": connect})
    return {**endpoint, "secret": signing_secret}


@route("POST", "/v1/webhook_endpoints")
def _create(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    reject_unknown(
        params, ("url", "enabled_events", "connect", "description", "metadata", "api_version")
    )
    if not params.get("url"):
        raise missing("url")
    events = coerce_list(params.get("enabled_events"))
    if not events:
        raise missing("enabled_events")
    connect = as_bool(params.get("connect", "false"), "connect")
    return create_endpoint(
        engine,
        str(params["url"]),
        events,
        engine.now(),
        connect=connect,
        description=params.get("description") or None,
        metadata=update_metadata({}, params.get("metadata")),
    )


@route("GET", "/v1/webhook_endpoints/{id}")
def _get(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    return engine.store.require(id, "webhook_endpoint", None, "id")


@route("POST", "/v1/webhook_endpoints/{id}")
def _update(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    reject_unknown(params, ("url", "enabled_events", "disabled", "description", "metadata"))
    endpoint = engine.store.require(id, "webhook_endpoint", None, "id")
    if params.get("url"):
        endpoint["url"] = str(params["url"])
    if params.get("enabled_events"):
        endpoint["enabled_events"] = coerce_list(params["enabled_events"])
    if "disabled" in params:
        disabled = as_bool(params["disabled"], "disabled")
        endpoint["status"] = "disabled" if disabled else "enabled"
    if "description" in params:
        endpoint["description"] = params["description"] or None
    endpoint["metadata"] = update_metadata(endpoint["metadata"], params.get("metadata"))
    engine.store.dirty = True
    return endpoint


@route("GET", "/v1/webhook_endpoints")
def _list_endpoints(engine: Engine, ctx: Ctx, params: Obj) -> Obj:
    items = list(engine.store.newest_first("webhook_endpoint", None))
    return paginate(items, params, "/v1/webhook_endpoints", engine.store.position)


@route("DELETE", "/v1/webhook_endpoints/{id}")
def _delete(engine: Engine, ctx: Ctx, params: Obj, id: str) -> Obj:
    engine.store.require(id, "webhook_endpoint", None, "id")
    engine.store.remove(id)
    return {"id": id, "object": "webhook_endpoint", "deleted": True}
