"""What every command shares: the consoles, settings or a clear exit, and one run's resources.

Commands import heavy things (SQLAlchemy, Stripe, boto3, DuckDB, WeasyPrint) inside their
bodies, so ``paywindow --help`` and a typo stay instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from paywindow.errors import ConfigError, PaywindowError
from paywindow.settings import Settings, load_settings

if TYPE_CHECKING:
    from paywindow.resources import Resources

__all__ = ["console", "err", "fail", "resources", "settings"]

console = Console()
err = Console(stderr=True)


def fail(exc: BaseException | str, code: int = 1) -> typer.Exit:
    """Print ``exc`` as an error and return the Exit to raise (``raise fail(exc) from exc``)."""
    err.print(f"[red]error:[/] {exc}")
    return typer.Exit(code)


def settings() -> Settings:
    """The settings, or exit 2 naming what is wrong with them."""
    try:
        return load_settings()
    except ConfigError as exc:
        raise fail(exc, 2) from exc


@contextmanager
def resources(configured: Settings | None = None, *, migrated: bool = False) -> Iterator[Resources]:
    """One run's resources (closed at the end); with ``migrated`` the schema must be current.

    A paywindow error inside the block (Stripe down, no such order, a missing setting) is
    printed and exits 1; a configuration error or an old schema before it starts exits 2.
    """
    from paywindow.resources import open_resources

    with ExitStack() as stack:
        try:
            res = stack.enter_context(open_resources(configured or settings()))
            if migrated:
                from paywindow.store import check_migrated

                check_migrated(res.engine)
        except PaywindowError as exc:
            raise fail(exc, 2) from exc
        try:
            yield res
        except PaywindowError as exc:
            raise fail(exc) from exc
