"""A background thread that keeps applying recorded events (started by ``paywindow serve``)."""

from __future__ import annotations

from sqlalchemy import Engine

from paywindow.background import Background
from paywindow.clock import Clock
from paywindow.inbox.processor import process_due

__all__ = ["ProcessorThread"]


class ProcessorThread(Background):
    """Sweeps due events whenever woken (after each recorder commit) or every ``poll`` seconds."""

    name = "event-processor"

    def __init__(
        self, engine: Engine, clock: Clock, *, poll: float = 1.0, max_attempts: int = 12
    ) -> None:
        super().__init__(poll)
        self._engine = engine
        self._clock = clock
        self._max_attempts = max_attempts

    def run_pass(self) -> bool:
        report = process_due(self._engine, self._clock.now(), max_attempts=self._max_attempts)
        return report.total > 0
