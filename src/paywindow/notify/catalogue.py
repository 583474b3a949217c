"""The message catalogue: every topic paywindow sends the marketplace, and its JSON Schema.

Each topic's ``data`` is described by ``schemas/<topic>.json`` (JSON Schema draft 2020-12,
shipped in the wheel; docs/notifications.md prints them with an example each). The catalogue
is versioned as a whole (:data:`VERSION`, also in every schema's ``$id``): within a version
fields are only ever added; a field renamed, removed or given another meaning makes a new one.

:func:`validate` needs ``jsonschema`` (a development dependency: tests check every payload
paywindow emits against its schema); it is imported when called, so the commands that only
list topics stay light.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["TOPICS", "VERSION", "UnknownTopic", "schema", "validate"]

#: The catalogue's version (the ``$id`` of every schema names it).
VERSION = "1.0"

#: Every topic, in the order docs/notifications.md lists them.
TOPICS = (
    "order.paid",
    "order.processing",
    "order.payment_failed",
    "payment.retry_link",
    "order.expired",
    "order.late_payment_refunded",
    "order.refunded",
    "order.partially_refunded",
    "order.disputed",
    "order.dispute_won",
    "order.dispute_lost",
    "order.payment_held",
    "receipt.generated",
)


class UnknownTopic(KeyError):
    """A topic the catalogue does not list."""


@cache
def _load(topic: str) -> str:
    if topic not in TOPICS:
        raise UnknownTopic(topic)
    return resources.files(__package__).joinpath("schemas", f"{topic}.json").read_text("utf-8")


def schema(topic: str) -> dict[str, Any]:
    """The JSON Schema of ``topic``'s ``data`` (a fresh copy; :class:`UnknownTopic` if none)."""
    loaded: dict[str, Any] = json.loads(_load(topic))
    return loaded


def validate(topic: str, payload: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``payload`` is a valid ``topic`` message
    (formats such as ``date-time`` are checked too)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(
        schema(topic), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(payload)
