"""The alert automations on the Prefect server: built from ``paywindow.health.ALERTS``.

:func:`install` is idempotent: an automation is looked up by name and updated in place, or
created; extra copies with the same name are deleted. Actions send a notification through a
Prefect notification block when one is configured, else do nothing (the alert still shows in
the Prefect UI's automations and event feed).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from prefect.events.actions import DoNothing, SendNotification
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

from paywindow.health import ALERTS, PREFIX

__all__ = ["build_automations", "install", "installed", "notify_block_id"]

_BODY = (
    "{{ event.event }} on {{ event.resource.id }} at {{ event.occurred }}\n"
    "{{ event.payload }}\n"
    "Runbook: docs/operations.md#{runbook}"
)


def build_automations(notify_block: UUID | None = None) -> list[Any]:
    """The automations for :data:`ALERTS` (Prefect ``AutomationCore`` objects)."""
    built = []
    for alert in ALERTS:
        action: Any = DoNothing()
        if notify_block is not None:
            body = _BODY.replace("{runbook}", alert.runbook)
            action = SendNotification(
                block_document_id=notify_block, subject=f"[{alert.name}]", body=body
            )
        trigger = EventTrigger(
            expect=set(alert.events),
            match=dict(alert.match),
            match_related=dict(alert.match_related),
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        )
        built.append(
            AutomationCore(
                name=alert.name,
                description=alert.meaning + f" Runbook: docs/operations.md#{alert.runbook}",
                enabled=True,
                trigger=trigger,
                actions=[action],
            )
        )
    return built


def notify_block_id(client: Any, spec: str | None) -> UUID | None:
    """The id of the notification block ``type-slug/name`` (``slack-webhook/oncall``)."""
    if not spec:
        return None
    slug, _, name = spec.partition("/")
    block = client.read_block_document_by_name(name=name, block_type_slug=slug)
    return UUID(str(block.id))


def install(client: Any, automations: list[Any]) -> list[tuple[str, str]]:
    """Create or update each automation by name (a Prefect ``SyncPrefectClient``).

    Returns (name, ``created`` | ``updated``); running it twice changes nothing the second time
    but the update, and never leaves two automations with one name.
    """
    done = []
    for automation in automations:
        existing = client.read_automations_by_name(name=automation.name)
        if existing:
            client.update_automation(existing[0].id, automation)
            for extra in existing[1:]:
                client.delete_automation(extra.id)
            done.append((automation.name, "updated"))
        else:
            client.create_automation(automation)
            done.append((automation.name, "created"))
    return done


def installed(client: Any) -> list[Any]:
    """paywindow's automations on the Prefect server, by name."""
    found = [a for a in client.read_automations() if a.name.startswith(PREFIX)]
    return sorted(found, key=lambda a: a.name)
