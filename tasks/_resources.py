"""What every task shares: its retry policy, and one run's resources.

Settings are read once per run (or handed in by the flow), become
:class:`~paywindow.resources.Resources`, start the metrics, and are disposed when the task
ends. Tasks retry :class:`~paywindow.errors.Transient` failures only (Stripe, the database or
S3 out for a moment); a bug or a refusal fails the run at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect.cache_policies import NO_CACHE

from paywindow.errors import Transient
from paywindow.resources import Resources, open_resources
from paywindow.settings import Settings, load_settings
from tasks.observe import start_metrics

__all__ = ["TASK_POLICY", "retry_transient", "task_resources"]


def retry_transient(_task: Any, _task_run: Any, state: Any) -> bool:
    """A ``retry_condition_fn``: retry when the task failed with :class:`Transient`."""
    try:
        state.result()
    except Transient:
        return True
    except Exception:
        return False
    return False


#: The keyword arguments every paywindow task shares: jobs have effects, so nothing is
#: cached, and only transient failures are retried.
TASK_POLICY: dict[str, Any] = {"cache_policy": NO_CACHE, "retry_condition_fn": retry_transient}


@contextmanager
def task_resources(settings: Settings | None = None) -> Iterator[Resources]:
    """Resources for one task run: ``settings`` (or the environment's), metrics started."""
    configured = settings if settings is not None else load_settings()
    start_metrics(configured)
    with open_resources(configured) as res:
        yield res
