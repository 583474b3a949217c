"""Fixtures: the metrics test double configured for one test, and JSON logs into a buffer."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from paywindow.observability import RecordingMetrics, configure_logging, configure_metrics
from tests.recorder.conftest import recorder  # noqa: F401  (the recorder over HTTP)


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
