"""The sandbox clock: wall time by default, or frozen, set and advanced over the control API.

Invariant: ``now()`` never depends on anything but the wall clock, the offset and the frozen
instant, so every time-driven effect (expiry, settlement, payouts) is a function of it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["SandboxClock"]


class SandboxClock:
    """Sandbox time in unix seconds (float); thread-safe."""

    def __init__(self, start: float | None = None, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0 if start is None else start - time.time()
        self._frozen_at: float | None = None
        if frozen:
            self._frozen_at = time.time() if start is None else start

    def now(self) -> float:
        """Current sandbox time."""
        with self._lock:
            return self._now()

    def _now(self) -> float:
        return self._frozen_at if self._frozen_at is not None else time.time() + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def set(self, value: float) -> None:
        """Jump to ``value`` (frozen stays frozen, running keeps running from there)."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = value
            self._offset = value - time.time()

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds``."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            self._offset += seconds

    def freeze(self, frozen: bool) -> None:
        """Freeze at the current instant, or resume running from it."""
        with self._lock:
            current = self._now()
            self._frozen_at = current if frozen else None
            self._offset = current - time.time()

    def dump(self) -> dict[str, Any]:
        """Persistable state: the current instant and whether it is frozen."""
        with self._lock:
            return {
                "now": self._now(),
                "offset": self._offset,
                "frozen": self._frozen_at is not None,
            }

    @classmethod
    def load(cls, data: dict[str, Any]) -> SandboxClock:
        """Rebuild a clock saved by ``dump`` (a running clock keeps its offset from wall time)."""
        if data["frozen"]:
            return cls(start=float(data["now"]), frozen=True)
        return cls(start=time.time() + float(data["offset"]))
