"""Stripe's word in: the event log, the processor that applies it, the background worker, the
backfills from Stripe's event log and the backstop.

Siblings and shells import these names from here (see ``paywindow._faces``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paywindow._faces import face

if TYPE_CHECKING:
    from paywindow.inbox.backfill import backfill_events, resync_orders
    from paywindow.inbox.backstop import backstop_sweep, record_session
    from paywindow.inbox.eventlog import event_row, insert_events, parse_event
    from paywindow.inbox.processor import process_due, process_events, replay
    from paywindow.inbox.worker import ProcessorThread
    from paywindow.inbox.writer import EventWriter

__all__ = [
    "EventWriter",
    "ProcessorThread",
    "backfill_events",
    "backstop_sweep",
    "event_row",
    "insert_events",
    "parse_event",
    "process_due",
    "process_events",
    "record_session",
    "replay",
    "resync_orders",
]

__getattr__ = face(
    __name__,
    {
        "EventWriter": "writer",
        "ProcessorThread": "worker",
        "backfill_events": "backfill",
        "backstop_sweep": "backstop",
        "event_row": "eventlog",
        "insert_events": "eventlog",
        "parse_event": "eventlog",
        "process_due": "processor",
        "process_events": "processor",
        "record_session": "backstop",
        "replay": "processor",
        "resync_orders": "backfill",
    },
)
