"""Task retry policy shared by every Prefect task: retry transient failures only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["retry_only"]


def retry_only(*transient: type[BaseException]) -> Callable[[Any, Any, Any], bool]:
    """A ``retry_condition_fn`` that retries when the task failed with one of ``transient``."""

    def condition(_task: Any, _task_run: Any, state: Any) -> bool:
        try:
            state.result()
        except transient:
            return True
        except Exception:
            return False
        return False

    return condition
