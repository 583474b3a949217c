"""The operational store: tables, engines and migrations."""

from paywindow.store.engine import make_engine
from paywindow.store.migrate import check_migrated, upgrade

__all__ = ["check_migrated", "make_engine", "upgrade"]
