"""Schema migrations (Alembic), applied by ``paywindow db upgrade`` and checked at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from paywindow.errors import NotMigrated, StoreUnavailable

__all__ = ["check_migrated", "current_revision", "head_revision", "upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise StoreUnavailable(f"cannot reach the database: {exc.orig}") from exc


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` on ``engine``'s database."""
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def check_migrated(engine: Engine) -> None:
    """Raise :class:`NotMigrated` with a one-line explanation unless the schema is at head."""
    current, head = current_revision(engine), head_revision()
    if current is None:
        raise NotMigrated("the database has no paywindow schema: run `paywindow db upgrade`")
    if current != head:
        raise NotMigrated(
            f"the database schema is at {current}, the code needs {head}: "
            "run `paywindow db upgrade`"
        )
