"""What the tasks share for operations: DogStatsD metrics once per process, and turning the
domain's alert conditions into Prefect events (the alert automations trigger on them)."""

from __future__ import annotations

from prefect.events import emit_event

from paywindow.health import Signal
from paywindow.observability import DogStatsdMetrics, NullMetrics, configure_metrics, metrics
from paywindow.settings import Settings


def start_metrics(settings: Settings) -> None:
    """Send the domain's ``payments.*`` metrics to DogStatsD (first call in a process only).

    Logging stays Prefect's: its handlers ship ``paywindow.*`` records to the run's logs when
    ``PREFECT_LOGGING_EXTRA_LOGGERS=paywindow`` is set.
    """
    if settings.metrics_enabled and isinstance(metrics(), NullMetrics):
        configure_metrics(DogStatsdMetrics(settings.dogstatsd_host, settings.dogstatsd_port))


def emit_signal(signal: Signal) -> None:
    emit_event(
        event=signal.event,
        resource={"prefect.resource.id": signal.resource, "prefect.resource.name": "paywindow"},
        payload=signal.payload,
    )
