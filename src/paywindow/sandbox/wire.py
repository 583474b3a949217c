"""Stripe's wire format: nested form parameters, errors, list objects, cursors and expansion.

Invariants kept here:

* ``decode_form`` rebuilds exactly the nesting stripe-python's ``_encode.py`` flattens:
  ``a[b][0][c]=v`` becomes ``{"a": {"b": [{"c": "v"}]}}``; ``x[]=v`` appends; an empty value
  stays ``""`` (Stripe's "unset" convention is applied by the resource handlers).
* ``StripeError.body()`` omits null attributes, as Stripe's error objects do.
* ``paginate`` returns newest first; ``starting_after`` pages towards older objects and
  ``ending_before`` returns the page just newer than the cursor, still newest first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "Obj",
    "StripeError",
    "apply_expand",
    "as_bool",
    "as_int",
    "coerce_list",
    "created_filter",
    "decode_form",
    "invalid",
    "list_object",
    "missing",
    "no_such",
    "paginate",
    "reject_unknown",
    "update_metadata",
]

Obj = dict[str, Any]


class StripeError(Exception):
    """An error answered in Stripe's JSON shape with its HTTP status."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.fields: Obj = {"type": type_, "message": message, "code": code, "param": param}
        if code is not None and type_ != "idempotency_error":
            doc = code.replace("_", "-")
            self.fields["doc_url"] = f"https://stripe.com/docs/error-codes/{doc}"
        self.fields.update(extra)

    def body(self) -> Obj:
        """The ``{"error": {...}}`` document, null attributes omitted."""
        return {"error": {k: v for k, v in self.fields.items() if v is not None}}


def no_such(kind: str, obj_id: str, param: str | None = "id") -> StripeError:
    """404 ``resource_missing``: ``No such <kind>: '<id>'``."""
    message = f"No such {kind}: '{obj_id}'"
    return StripeError(404, "invalid_request_error", message, code="resource_missing", param=param)


def missing(param: str) -> StripeError:
    """400 ``parameter_missing`` for a required parameter."""
    message = f"Missing required param: {param}."
    return StripeError(400, "invalid_request_error", message, code="parameter_missing", param=param)


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    """400 ``invalid_request_error`` with a free message."""
    return StripeError(400, "invalid_request_error", message, code=code, param=param)


def reject_unknown(params: Obj, allowed: Iterable[str]) -> None:
    """400 ``parameter_unknown`` for the first top-level parameter not in ``allowed``."""
    known = set(allowed) | {"expand"}
    for key in params:
        if key not in known:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Received unknown parameter: {key}",
                code="parameter_unknown",
                param=key,
            )


def _split_key(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    parts = [head]
    if rest:
        parts.extend(rest.rstrip("]").split("]["))
    return parts


def _insert(root: Obj, parts: list[str], value: str) -> None:
    node: Any = root
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "":
            part = str(len(node))
        if last:
            node[part] = value
            return
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def decode_form(raw: str) -> Obj:
    """Decode a form or query string into nested dicts and lists (indexed and ``[]`` arrays)."""
    root: Obj = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        _insert(root, _split_key(key), value)
    result = _listify(root)
    return result if isinstance(result, dict) else {}


def as_int(value: Any, param: str) -> int:
    """An integer parameter; Stripe's ``Invalid integer`` error otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise invalid(f"Invalid integer: {value}", param)


def as_bool(value: Any, param: str) -> bool:
    """A boolean parameter (``true``/``false``); Stripe's ``Invalid boolean`` error otherwise."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise invalid(f"Invalid boolean: {value}", param)


def update_metadata(current: dict[str, str], given: Any) -> dict[str, str]:
    """Apply Stripe's metadata rules: ``""`` clears all keys, a key with ``""`` is deleted."""
    if given is None:
        return current
    if given == "":
        return {}
    if isinstance(given, list):  # all-digit keys were read as an array
        given = {str(i): v for i, v in enumerate(given)}
    if not isinstance(given, dict):
        raise invalid("Invalid hash", "metadata")
    merged = dict(current)
    for key, value in given.items():
        if len(key) > 40:
            raise invalid("Metadata keys must be at most 40 characters long.", f"metadata[{key}]")
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    if len(merged) > 50:
        raise invalid("You can specify up to 50 keys in metadata.", "metadata")
    return merged


def created_filter(params: Obj, field: str = "created") -> Callable[[Obj], bool]:
    """A predicate for ``created=<t>`` or ``created[gt|gte|lt|lte]=<t>``."""
    spec = params.get(field)
    if spec is None:
        return lambda _obj: True
    if not isinstance(spec, dict):
        exact = as_int(spec, field)
        return lambda obj: bool(obj[field] == exact)
    bounds = {op: as_int(v, f"{field}[{op}]") for op, v in spec.items()}
    checks: dict[str, Callable[[int, int], bool]] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    for op in bounds:
        if op not in checks:
            raise StripeError(
                400,
                "invalid_request_error",
                f"Received unknown parameter: {field}[{op}]",
                code="parameter_unknown",
                param=f"{field}[{op}]",
            )
    return lambda obj: all(checks[op](obj[field], v) for op, v in bounds.items())


def list_object(data: list[Obj], has_more: bool, url: str) -> Obj:
    """Stripe's list envelope."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def _limit(params: Obj) -> int:
    if "limit" not in params:
        return 10
    limit = as_int(params["limit"], "limit")
    if limit < 1:
        raise invalid("This value must be greater than or equal to 1.", "limit")
    if limit > 100:
        raise invalid("This value must be less than or equal to 100.", "limit")
    return limit


def paginate(items: list[Obj], params: Obj, url: str, position: Callable[[str], int | None]) -> Obj:
    """Page ``items`` (newest first) with ``limit``, ``starting_after`` and ``ending_before``.

    ``position(id)`` gives an object's insertion rank (None when unknown); ranks order the
    cursor comparisons, so a cursor filtered out of ``items`` still pages correctly.
    """
    limit = _limit(params)
    after, before = params.get("starting_after"), params.get("ending_before")
    if after and before:
        raise invalid(
            "You may only specify one of these parameters: ending_before, starting_after."
        )
    cursor = after or before
    if not cursor:
        return list_object(items[:limit], len(items) > limit, url)
    rank = position(str(cursor))
    if rank is None:
        raise no_such("object", str(cursor), "starting_after" if after else "ending_before")
    if after:
        older = [o for o in items if _rank(o, position) < rank]
        return list_object(older[:limit], len(older) > limit, url)
    newer = [o for o in items if _rank(o, position) > rank]
    return list_object(newer[-limit:], len(newer) > limit, url)


def _rank(obj: Obj, position: Callable[[str], int | None]) -> int:
    rank = position(obj["id"])
    return -1 if rank is None else rank


def apply_expand(obj: Obj, paths: list[str], resolve: Callable[[Obj, str], Any]) -> Obj:
    """Return a copy of ``obj`` with each dotted path expanded through ``resolve``.

    ``resolve(parent, field)`` returns the expanded value or raises ``StripeError``.
    """
    result = dict(obj)
    for path in paths:
        _expand_path(result, path.split("."), resolve)
    return result


def _expand_path(node: Obj, parts: list[str], resolve: Callable[[Obj, str], Any]) -> None:
    field, rest = parts[0], parts[1:]
    if field == "data" and isinstance(node.get("data"), list) and rest:
        node["data"] = [dict(item) for item in node["data"]]
        for item in node["data"]:
            _expand_path(item, rest, resolve)
        return
    if field not in node and field != "line_items":
        raise invalid(f"This property cannot be expanded ({field}).", "expand")
    if not isinstance(node.get(field), dict):
        node[field] = resolve(node, field)
    if rest and isinstance(node.get(field), dict):
        node[field] = dict(node[field])
        _expand_path(node[field], rest, resolve)


def coerce_list(value: Any) -> list[str]:
    """A string-array parameter given as list, single value or ``[]`` map."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return [str(v) for v in value.values()]
    return [str(value)]
