"""Seeded worlds, built once per module and backend: the sandbox, a store, a synced ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paywindow.reconcile.matching import Slas
from paywindow.reconcile.run import ReconcileResult, day_range, reconcile
from paywindow.sandbox import running_sandbox
from paywindow.store import make_engine, upgrade
from tests.conftest import _truncate
from tests.reconcile.world import START, World, build_world

ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = ROOT / "sql" / "reconcile"
TEMPLATES = ROOT / "reports" / "reconcile"


@dataclass
class Reconciled:
    world: World
    result: ReconcileResult

    def rerun(self) -> ReconcileResult:
        return run(self.world)


def run(world: World, **overrides: object) -> ReconcileResult:
    now = world.now()
    period_from, period_to = day_range(START.date(), now.date())
    options: dict[str, object] = {
        "period_from": period_from,
        "period_to": period_to,
        "as_of": now,
        "now": now,
        "slas": Slas(),
    } | overrides
    return reconcile(world.engine, world.data_dir, SQL_DIR, **options)  # type: ignore[arg-type]


def _engine(backend: str, request: pytest.FixtureRequest, tmp: Path) -> Engine:
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp}/paywindow.db")
        upgrade(engine)
        return engine
    engine = make_engine(request.getfixturevalue("postgres_url"))
    _truncate(engine)
    return engine


def _world(
    backend: str, request: pytest.FixtureRequest, factory: pytest.TempPathFactory, inject: bool
) -> Iterator[Reconciled]:
    tmp = factory.mktemp("world")
    engine = _engine(backend, request, tmp)
    with running_sandbox(start=START, frozen=True) as sandbox:
        world = build_world(sandbox, engine, tmp, inject=inject)
        yield Reconciled(world, run(world))
    engine.dispose()


_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=_BACKENDS)
def injected(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Reconciled]:
    """A world with one case of every finding kind, reconciled once."""
    yield from _world(request.param, request, tmp_path_factory, inject=True)


@pytest.fixture(scope="module")
def clean(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Reconciled]:
    """A world where Stripe and paywindow agree, reconciled once (SQLite)."""
    yield from _world("sqlite", request, tmp_path_factory, inject=False)
