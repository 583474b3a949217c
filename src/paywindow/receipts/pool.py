"""Rendering on every core: a process pool whose workers each keep one warm :class:`Renderer`.

WeasyPrint is CPU-bound Python, so threads would share one core; each worker process loads
templates, CSS and fonts once and then renders documents handed to it. Errors come back as
exceptions (with the worker's traceback attached by ``concurrent.futures``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from paywindow.receipts.model import ReceiptDocument
from paywindow.receipts.render import Renderer

__all__ = ["RenderPool", "default_workers", "inline"]

_renderer: Renderer | None = None


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _init(reports_dir: str) -> None:
    global _renderer
    _renderer = Renderer(Path(reports_dir))
    _renderer.warm()


def _render(doc: ReceiptDocument) -> bytes:
    assert _renderer is not None, "worker not initialised"
    return _renderer.pdf(doc)


def _warm() -> int:
    return os.getpid()


class RenderPool:
    """``workers`` render processes; :meth:`submit` returns a future of the PDF bytes."""

    def __init__(self, reports_dir: Path, workers: int = 0) -> None:
        self.workers = workers or default_workers()
        context = multiprocessing.get_context("spawn")  # no forked DB connections or threads
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=_init,
            initargs=(str(reports_dir),),
        )

    def warm_up(self) -> None:
        """Start every worker now (each loads templates and fonts) rather than on first use."""
        for future in [self._executor.submit(_warm) for _ in range(self.workers)]:
            future.result()

    def submit(self, doc: ReceiptDocument) -> Future[bytes]:
        return self._executor.submit(_render, doc)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def inline(renderer: Renderer) -> Callable[[ReceiptDocument], Future[bytes]]:
    """Render in the calling thread (tests, one-off CLI runs); errors land in the future."""

    def submit(doc: ReceiptDocument) -> Future[bytes]:
        future: Future[bytes] = Future()
        try:
            future.set_result(renderer.pdf(doc))
        except Exception as exc:
            future.set_exception(exc)
        return future

    return submit
