"""Seeded reconciliation worlds (tests.world), built once per module and backend and
reconciled once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paywindow.reconcile.run import ReconcileResult
from paywindow.store import make_engine, upgrade
from tests.conftest import _truncate
from tests.world import START, World, build_world, reconcile_world, seed_reconciliation
from tests.world.ledger import ROOT, SQL_DIR, TEMPLATES

__all__ = ["ROOT", "SQL_DIR", "TEMPLATES", "Reconciled", "run"]


@dataclass
class Reconciled:
    world: World
    result: ReconcileResult

    def rerun(self) -> ReconcileResult:
        return run(self.world)


def run(world: World, **overrides: object) -> ReconcileResult:
    return reconcile_world(world, **overrides)


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
    with build_world(engine, start=START, serve=False, data_dir=tmp) as world:
        seed_reconciliation(world, inject=inject)
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
