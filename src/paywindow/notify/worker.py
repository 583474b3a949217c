"""The relay in the background: ``serve`` runs one unless told not to."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from paywindow.clock import Clock
from paywindow.notify.relay import Relay, RelayConfig, RelayReport

__all__ = ["RelayThread"]

log = logging.getLogger(__name__)


class RelayThread:
    """Keeps delivering in the background (``serve`` runs one unless told not to)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        poll_interval: float = 0.2,
        config: RelayConfig | None = None,
        on_pass: Callable[[RelayReport], None] | None = None,
    ) -> None:
        self.relay = Relay(engine, clock, config=config)
        self.poll_interval = poll_interval
        self.on_pass = on_pass
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self.relay.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.relay.run_once()
                if self.on_pass is not None:
                    self.on_pass(report)
            except Exception:  # keep delivering; the failure is logged with its traceback
                log.exception("relay pass failed")
            self._wake.wait(self.poll_interval)
            self._wake.clear()
