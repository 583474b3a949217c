"""Running callers at once, as concurrent clients would: threads released by one barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


def at_once(calls: Sequence[Callable[[], Any]], *, stagger: float = 0.0) -> list[Any]:
    """Run every call in its own thread, released together (``stagger`` seconds apart);
    each call's result, or the exception it raised, in order."""
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def one(n: int) -> None:
        barrier.wait()
        threading.Event().wait(stagger * n)
        try:
            results[n] = calls[n]()
        except Exception as exc:  # collected and asserted on by the caller
            results[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
