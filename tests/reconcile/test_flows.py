"""The ``reconcile-range`` flow end to end under a Prefect test server, with its artifacts."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.reconcile.conftest import ROOT, Reconciled

# Prefect's client leaves keep-alive sockets to the test server for the GC to close.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    try:
        from prefect.testing.utilities import prefect_test_harness

        harness = prefect_test_harness(server_startup_timeout=60)
        harness.__enter__()
    except TypeError as exc:  # Prefect 3.8.8's server vs FastAPI 0.165: Body(min_items=...)
        pytest.skip(f"Prefect's test server does not start here: {exc}")
    yield
    harness.__exit__(None, None, None)


@pytest.mark.slow
def test_reconcile_range_flow_publishes_a_summary(
    injected: Reconciled,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    if injected.world.engine.dialect.name != "sqlite":
        pytest.skip("one backend is enough for the flow shell")
    request.getfixturevalue("harness")
    monkeypatch.setenv("PAYWINDOW_DATABASE_URL", str(injected.world.engine.url))
    monkeypatch.setenv("PAYWINDOW_DATA_DIR", str(injected.world.data_dir))
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop("flows.reconcile_range", None)
    from flows.reconcile_range import reconcile_range
    from prefect.artifacts import Artifact

    summary = reconcile_range(
        date(2026, 11, 2), date(2026, 11, 7), sync=False, out_dir=str(tmp_path)
    )
    assert summary["findings"] == 10
    assert (tmp_path / "reconcile-2026-11-02_2026-11-07.pdf").exists()
    artifact: Any = Artifact.get("reconcile-range")
    assert artifact is not None and "10 findings" in str(artifact.data)
    table: Any = Artifact.get("reconcile-range-totals")
    assert table is not None and "JPY" in str(table.data)
