"""Fixtures: the metrics test double configured for one test, JSON logs into a buffer, and the
libraries' own loggers turned up."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from paywindow.observability import RecordingMetrics, configure_logging, configure_metrics
from tests.web.conftest import recorder  # noqa: F401  (the recorder over HTTP)


@pytest.fixture
def recorded() -> Iterator[RecordingMetrics]:
    double = RecordingMetrics()
    previous = configure_metrics(double)
    yield double
    configure_metrics(previous)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Every log record at DEBUG, as the shells write it (JSON, redacted), into a buffer."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    handler = configure_logging("DEBUG", json=True, stream=buffer)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def library_debug_logs(json_logs: io.StringIO) -> Iterator[io.StringIO]:
    """``json_logs`` with SQLAlchemy's engine log (statements, parameters, rows) and the Stripe
    SDK's (request bodies, response bodies) at DEBUG, as on-call would turn them on."""
    loggers = [logging.getLogger(name) for name in ("sqlalchemy.engine", "stripe")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    yield json_logs
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
