"""The relay in the background: ``serve`` runs one unless told not to."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from paywindow.background import Background
from paywindow.clock import Clock
from paywindow.notify.relay import Relay, RelayConfig, RelayReport

__all__ = ["RelayThread"]


class RelayThread(Background):
    """Keeps delivering in the background (``serve`` runs one unless told not to)."""

    name = "notify-relay"

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        poll_interval: float = 0.2,
        config: RelayConfig | None = None,
        on_pass: Callable[[RelayReport], None] | None = None,
    ) -> None:
        super().__init__(poll_interval)
        self.relay = Relay(engine, clock, config=config)
        self.on_pass = on_pass

    def run_pass(self) -> bool:
        report = self.relay.run_once()
        if self.on_pass is not None:
            self.on_pass(report)
        return False  # a pass already delivers everything due; wait for the next tick

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        self.relay.close()
