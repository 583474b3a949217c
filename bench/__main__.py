"""Run every benchmark package under ``bench/`` (those with a ``run.py`` that has ``main()``).

``python -m bench`` runs them all with their defaults; ``python -m bench recorder`` runs only the
named ones. A benchmark that fails does not stop the others; the exit status says whether any did.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _benchmarks() -> list[str]:
    names = []
    for module in pkgutil.iter_modules([str(_HERE)]):
        if module.ispkg and importlib.util.find_spec(f"bench.{module.name}.run") is not None:
            names.append(module.name)
    return sorted(names)


def _run_one(name: str) -> bool:
    module = importlib.import_module(f"bench.{name}.run")
    entry: Callable[[], object] | None = getattr(module, "main", None)
    if entry is None:
        print(f"bench: bench/{name}/run.py has no main(); skipped", file=sys.stderr)
        return True
    saved = sys.argv
    sys.argv = [f"bench.{name}.run"]  # each benchmark runs with its own defaults
    try:
        status = entry()
    except SystemExit as exc:
        status = exc.code
    except Exception:
        traceback.print_exc()
        return False
    finally:
        sys.argv = saved
    return status in (None, 0)


def main(argv: list[str] | None = None) -> int:
    wanted = list(sys.argv[1:] if argv is None else argv)
    available = _benchmarks()
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        print(f"bench: unknown benchmark(s) {unknown}; available: {available}", file=sys.stderr)
        return 2
    failed = [name for name in wanted or available if not _run_one(name)]
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
