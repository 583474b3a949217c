"""A background thread that runs one pass whenever woken or every few seconds, until stopped.

``serve`` runs two: the event processor and the notification relay. A pass that raises is
logged with its traceback and the loop goes on (the database may be down for a moment).
"""

from __future__ import annotations

import logging
import threading

__all__ = ["Background"]

log = logging.getLogger(__name__)


class Background:
    """Subclasses say what one pass does (:meth:`run_pass`, returning whether there may be
    more to do at once); :meth:`wake` runs the next pass now."""

    name = "background"

    def __init__(self, poll: float) -> None:
        self.poll = poll
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)

    def run_pass(self) -> bool:
        raise NotImplementedError

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
            try:
                while self.run_pass() and not self._stop.is_set():
                    pass
            except Exception:  # logged with its traceback; the next pass tries again
                log.exception("%s pass failed", self.name)
            self._wake.wait(self.poll)
            self._wake.clear()
