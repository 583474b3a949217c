"""Package faces: the few names a domain package shows its siblings and the shells.

A package's ``__init__.py`` lists its names with the module each lives in; they are imported on
first use (PEP 562), so importing one small module of a package (say
``paywindow.receipts.render`` in a render worker) never drags in the rest, and two packages can
name each other's faces without an import cycle. Type checkers see the names through the
``TYPE_CHECKING`` imports next to the table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["face"]


def face(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``names`` (name -> module under ``package``)."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
