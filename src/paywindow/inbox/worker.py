"""A background thread that keeps applying recorded events (started by ``paywindow serve``)."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from paywindow.clock import Clock
from paywindow.inbox.processor import process_due

__all__ = ["ProcessorThread"]

log = logging.getLogger(__name__)


class ProcessorThread:
    """Sweeps due events whenever woken (after each recorder commit) or every ``poll`` seconds."""

    def __init__(
        self, engine: Engine, clock: Clock, *, poll: float = 1.0, max_attempts: int = 12
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._poll = poll
        self._max_attempts = max_attempts
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="event-processor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll)
            self._wake.clear()
            try:
                while not self._stop.is_set():
                    report = process_due(
                        self._engine, self._clock.now(), max_attempts=self._max_attempts
                    )
                    if report.total == 0:
                        break
            except Exception:  # the database may be down: log and try again on the next tick
                log.exception("event processor sweep failed")
