"""Where the SQL queries (``sql/``) and the document templates (``reports/``) are.

One lookup, in this order: the settings (``PAYWINDOW_SQL_DIR``, ``PAYWINDOW_REPORTS_DIR``), then
the copy shipped inside the wheel (``paywindow/_data/``), then the folders of the source checkout
this package runs from (an editable install). An installed paywindow therefore works from any
directory; a checkout always reads its own, current files.
"""

from __future__ import annotations

from pathlib import Path

from paywindow.errors import ConfigError
from paywindow.settings import Settings

__all__ = ["reports_dir", "sql_dir"]

_PACKAGED = Path(__file__).resolve().parent / "_data"
_CHECKOUT = Path(__file__).resolve().parents[2]


def sql_dir(settings: Settings | None = None) -> Path:
    """The ``sql/`` folder (its ``reconcile/`` holds the reconciliation queries)."""
    configured = settings.sql_dir if settings is not None else None
    return _find("sql", "reconcile", configured, "PAYWINDOW_SQL_DIR")


def reports_dir(settings: Settings | None = None) -> Path:
    """The ``reports/`` folder: templates, stylesheets, fonts and catalogs of every document."""
    configured = settings.reports_dir if settings is not None else None
    return _find("reports", "receipts", configured, "PAYWINDOW_REPORTS_DIR")


def _find(name: str, marker: str, configured: Path | None, setting: str) -> Path:
    if configured is not None:
        if not (configured / marker).is_dir():
            raise ConfigError(f"{setting}={configured} has no {marker}/ folder")
        return configured.resolve()
    for candidate in (_PACKAGED / name, _CHECKOUT / name):
        if (candidate / marker).is_dir():
            return candidate
    raise ConfigError(f"{name}/ is neither packaged nor in a checkout; set {setting}")
