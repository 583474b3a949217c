"""The ``reconcile-range`` flow end to end under a Prefect test server, with its artifacts."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from paywindow.settings import load_settings
from tests.reconcile.conftest import ROOT, Reconciled

# Prefect's client leaves keep-alive sockets to the test server for the GC to close.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.mark.slow
def test_reconcile_range_flow_publishes_a_summary(
    injected: Reconciled,
    prefect_server: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    if injected.world.engine.dialect.name != "sqlite":
        pytest.skip("one backend is enough for the flow shell")
    settings = load_settings(
        database_url=injected.world.engine.url.render_as_string(hide_password=False),
        data_dir=injected.world.data_dir,
    )
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop("flows.reconcile_range", None)
    from flows.reconcile_range import reconcile_range
    from prefect.artifacts import Artifact

    summary = reconcile_range(
        date(2026, 11, 2), date(2026, 11, 7), sync=False, out_dir=str(tmp_path), settings=settings
    )
    assert summary["findings"] == 10
    assert (tmp_path / "reconcile-2026-11-02_2026-11-07.pdf").exists()
    artifact: Any = Artifact.get("reconcile-range")
    assert artifact is not None and "10 findings" in str(artifact.data)
    table: Any = Artifact.get("reconcile-range-totals")
    assert table is not None and "JPY" in str(table.data)
