"""The simulated marketplace in a process of its own, driven over a pipe.

The receiver is the real :class:`paywindow.sandbox.marketplace.Marketplace` (uvicorn, signatures
verified with the Standard Webhooks library, deduplication by ``webhook-id``); running it in
its own process keeps its CPU apart from the relay's, as a real marketplace's would be.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["Receiver"]


def _serve(pipe: Connection) -> None:
    from paywindow.sandbox.marketplace import Marketplace, running_marketplace

    market = Marketplace()
    with running_marketplace(market):
        pipe.send(market.url)
        while True:
            command, argument = pipe.recv()
            if command == "stop":
                pipe.send(None)
                return
            if command == "secret":
                market.secrets[:] = [argument]
                pipe.send(None)
            elif command == "reset":
                with market._lock:
                    market.received.clear()
                    market.deliveries.clear()
                    market.requests = market.answered = market.rejected = 0
                pipe.send(None)
            elif command == "count":
                pipe.send(len(market.received))
            elif command == "stats":
                with market._lock:
                    pipe.send(
                        {
                            "requests": market.requests,
                            "answered": market.answered,
                            "rejected": market.rejected,
                            "redelivered": sum(n - 1 for n in market.deliveries.values()),
                            # order id (or webhook-id) -> time.time() of the first arrival
                            "arrivals": {r.order_id or r.id: r.at for r in market.received},
                        }
                    )


class Receiver:
    """Start the marketplace process; ``url`` is its webhook URL."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        if not self._pipe.poll(30):
            raise RuntimeError("the marketplace process did not start")
        self.url: str = self._pipe.recv()
        self.pid: int = self._process.pid or 0

    def _ask(self, command: str, argument: Any = None) -> Any:
        self._pipe.send((command, argument))
        return self._pipe.recv()

    def trust(self, secret: str) -> None:
        self._ask("secret", secret)

    def reset(self) -> None:
        self._ask("reset")

    def count(self) -> int:
        return int(self._ask("count"))

    def stats(self) -> dict[str, Any]:
        return dict(self._ask("stats"))

    def close(self) -> None:
        if self._process.is_alive():
            self._ask("stop")
        self._process.join(10)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
