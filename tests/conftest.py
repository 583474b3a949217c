"""Shared fixtures: a clean environment, a migrated database on SQLite and PostgreSQL, moto's
S3/KMS (one server per session, a bucket per test) and the world (built in tests.world)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, create_engine, text

from paywindow.store import make_engine, upgrade
from paywindow.store.tables import metadata

if TYPE_CHECKING:
    from paywindow.sandbox.s3 import S3Handle
    from tests.world import World

# Prefect's test server must not try to phone home from a machine without internet.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

PG_ADMIN_URL = os.environ.get(
    "PAYWINDOW_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clean_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No PAYWINDOW_* variable from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("PAYWINDOW_") and not name.startswith("PAYWINDOW_TEST_"):
            monkeypatch.delenv(name)


def _postgres_available() -> bool:
    try:
        probe = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
        with probe.connect():
            pass
        probe.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A scratch PostgreSQL database for this test session, migrated once, dropped at the end."""
    if not _postgres_available():
        if os.environ.get("PAYWINDOW_TEST_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (PAYWINDOW_TEST_REQUIRE_POSTGRES) but unreachable")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"paywindow_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(engine: Engine) -> None:
    names = ", ".join(t.name for t in reversed(metadata.sorted_tables))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/paywindow.db"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    _truncate(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3/KMS server on a loopback port, started once, when a test first asks for it."""
    from moto.server import ThreadedMotoServer

    from paywindow.sandbox import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> S3Handle:
    """A fresh Object-Lock bucket and KMS key on the session's moto server."""
    from paywindow.sandbox.s3 import prepare_bucket

    return prepare_bucket(s3_endpoint)


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    """The whole world (sandbox, store, serve app) on a frozen clock."""
    from tests.world import build_world

    with build_world(engine) as built:
        yield built


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """One real Prefect server for the session's flow tests; its URL.

    A server that does not start fails the test that needs it (never a skip: CI must not
    pass with the flows untested).
    """
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    harness = prefect_test_harness(server_startup_timeout=60)
    try:
        harness.__enter__()
    except Exception as exc:
        pytest.fail(f"Prefect's test server did not start: {type(exc).__name__}: {exc}")
    try:
        yield str(PREFECT_API_URL.value())
    finally:
        harness.__exit__(None, None, None)
