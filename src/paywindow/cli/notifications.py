"""``paywindow notifications ...``: the marketplace's webhook endpoints, the messages and their
deliveries, replays, and the relay as a standalone process."""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime
from typing import Any

import typer

from paywindow.cli._shell import console, fail, resources

__all__ = ["notifications_app"]

notifications_app = typer.Typer(
    no_args_is_help=True, help="Notifications to the marketplace (signed webhooks)."
)
endpoints_app = typer.Typer(no_args_is_help=True, help="Webhook endpoints.")
notifications_app.add_typer(endpoints_app, name="endpoints")


def _print(view: dict[str, Any] | list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(view, default=str) + "\n")
    else:
        console.print_json(json.dumps(view, default=str))


@endpoints_app.command("add")
def endpoints_add(
    url: str = typer.Argument(..., help="Where to POST notifications (https://...)."),
    topics: str | None = typer.Option(None, help="Comma-separated topics (default: every one)."),
    description: str | None = typer.Option(None, help="A note for operators."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object, for scripts."),
) -> None:
    """Add an endpoint; prints its id and its whsec_ signing secret (shown only now)."""
    from paywindow import notify
    from paywindow.clock import SystemClock
    from paywindow.notify.catalogue import TOPICS

    chosen = [t for t in topics.split(",")] if topics else None
    with resources(migrated=True) as res:
        endpoint = notify.add_endpoint(
            res.engine,
            url,
            SystemClock().now(),
            topics=chosen,
            description=description,
            known_topics=frozenset(TOPICS),
        )
    view = notify.endpoint_view(endpoint, with_secret=True)
    if as_json:
        _print(view, True)
        return
    console.print(f"endpoint {view['id']} → {view['url']}")
    console.print(f"signing secret (shown once, keep it safe): {view['secret']}")


@endpoints_app.command("list")
def endpoints_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every endpoint, enabled or not (never their secrets)."""
    from paywindow import notify

    with resources() as res:
        views = [notify.endpoint_view(e) for e in notify.list_endpoints(res.engine)]
    if as_json:
        _print(views, True)
        return
    from rich.table import Table

    table = Table("endpoint", "url", "topics", "status", "failing since", "reason")
    for v in views:
        table.add_row(
            v["id"],
            v["url"],
            ",".join(v["topics"]) if v["topics"] else "(all)",
            v["status"],
            v["failing_since"] or "",
            v["disabled_reason"] or "",
        )
    console.print(table)


@endpoints_app.command("disable")
def endpoints_disable(
    endpoint_id: str,
    reason: str = typer.Option("disabled by an operator", help="Why (kept on the endpoint)."),
) -> None:
    """Stop delivering to ENDPOINT_ID; its messages wait until it is enabled again."""
    from paywindow import notify
    from paywindow.clock import SystemClock

    with resources() as res:
        endpoint = notify.disable_endpoint(res.engine, endpoint_id, SystemClock().now(), reason)
    console.print(f"{endpoint.id} disabled: {reason}")


@endpoints_app.command("enable")
def endpoints_enable(endpoint_id: str) -> None:
    """Deliver to ENDPOINT_ID again, starting with what waited for it."""
    from paywindow import notify

    with resources() as res:
        endpoint = notify.enable_endpoint(res.engine, endpoint_id)
    console.print(f"{endpoint.id} enabled")


@endpoints_app.command("rotate-secret")
def endpoints_rotate(endpoint_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A new signing secret for ENDPOINT_ID (shown once); the old one keeps signing beside it
    for 24 hours."""
    from paywindow import notify
    from paywindow.clock import SystemClock

    with resources() as res:
        endpoint = notify.rotate_secret(res.engine, endpoint_id, SystemClock().now())
    view = notify.endpoint_view(endpoint, with_secret=True)
    if as_json:
        _print(view, True)
        return
    until = endpoint.previous_until.isoformat() if endpoint.previous_until else ""
    console.print(f"new signing secret (shown once): {view['secret']}")
    console.print(f"the previous secret also signs until {until}")


@notifications_app.command("list")
def notifications_list(
    failed: bool = typer.Option(False, "--failed", help="Only messages not delivered yet."),
    order: str | None = typer.Option(None, "--order", help="Only this order's messages."),
    limit: int = typer.Option(50),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recent messages, newest first, with how each endpoint's delivery stands."""
    from paywindow.notify.views import list_messages

    with resources() as res:
        rows = list_messages(res.engine, failed=failed, order_id=order, limit=limit)
    if as_json:
        _print(rows, True)
        return
    from rich.table import Table

    table = Table("message", "type", "order", "created", "deliveries")
    for row in rows:
        deliveries = ", ".join(
            f"{d['endpoint_id']}: {d['status']} ({d['attempts']})"
            + (
                f" {d['last_status'] or d['last_error'] or ''}"
                if d["status"] != "delivered"
                else ""
            )
            for d in row["deliveries"]
        )
        table.add_row(
            row["id"], row["type"], row["order_id"] or "", row["created_at"], deliveries or "-"
        )
    console.print(table)


def _delivery(d: dict[str, Any]) -> str:
    text = f"{d['endpoint_id']}: {d['status']} ({d['attempts']})"
    if d["status"] != "delivered":
        text += f" {d['last_status'] or d['last_error'] or ''}"
    return text


@notifications_app.command("replay")
def notifications_replay(
    message: list[str] = typer.Option(None, "--id", help="Message id (msg_...); repeatable."),
    since: datetime | None = typer.Option(None, help="Every message created since this time."),
    endpoint: str | None = typer.Option(
        None, help="Only to this endpoint (even if it never had it)."
    ),
) -> None:
    """Deliver messages again (the same webhook-id: receivers can tell a replay)."""
    from paywindow import notify
    from paywindow.clock import SystemClock, utc

    if not (message or since):
        raise fail("give --id or --since", 2)
    ids = [_outbox_id(m) for m in message or []]
    with resources() as res:
        count = notify.replay(
            res.engine,
            SystemClock().now(),
            message_ids=ids or None,
            since=utc(since) if since else None,
            endpoint_id=endpoint,
        )
    console.print(f"{count} deliveries scheduled")


def _outbox_id(message: str) -> int:
    try:
        return int(message.removeprefix("msg_"))
    except ValueError as exc:
        raise fail(f"{message!r} is not a message id (msg_...)", 2) from exc


@notifications_app.command("deliver")
def notifications_deliver(
    once: bool = typer.Option(False, "--once", help="One pass, then exit."),
    max_runtime: float = typer.Option(0, help="Seconds to run; 0 runs until interrupted."),
) -> None:
    """Run the relay in this process (what the deliver-notifications deployment runs)."""
    from paywindow import jobs
    from paywindow.clock import SystemClock

    stop = threading.Event()
    with resources(migrated=True) as res:
        try:
            totals = jobs.deliver_notifications(
                res, SystemClock(), once=once, max_runtime=max_runtime or None, stop=stop
            )
        except KeyboardInterrupt:
            stop.set()
            return
    console.print(totals)
