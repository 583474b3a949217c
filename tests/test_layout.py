"""The rules of the house (docs/architecture.md), checked on the source: layers import only
downwards, siblings meet through their faces, the domain never imports a shell framework, and
only the adapters name a third-party error."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
FACES = ("payments", "inbox", "retries", "receipts", "reconcile", "notify")
#: Lower layers never import higher ones; domain packages (3.x) may import a sibling of an
#: equal or lower rank, through its face.
LAYERS = {
    "errors": 0,
    "clock": 0,
    "money": 0,
    "settings": 0,
    "observability": 0,
    "stripe_ids": 0,
    "documents": 0,
    "_faces": 0,
    "background": 0,
    "store": 1,
    "gateway": 2,
    "payments": 3.0,
    "inbox": 3.1,
    "retries": 3.2,
    "receipts": 3.2,
    "reconcile": 3.2,
    "notify": 3.3,
    "health": 3.4,
    "resources": 4,
    "jobs": 4.1,
    "web": 5,
    "cli": 5,
    "sandbox": 5,
}
SHELL_FRAMEWORKS = {"prefect", "typer", "fastapi", "starlette", "uvicorn"}
#: Where Stripe's, boto's and the database driver's own errors may be named.
ADAPTERS = ("gateway/", "receipts/storage.py", "receipts/signing.py", "store/", "sandbox/")


def _modules() -> list[tuple[str, Path, ast.Module]]:
    found = []
    for path in sorted((SRC / "paywindow").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        found.append((name, path, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def _top(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def _imports(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


MODULES = _modules()


@pytest.mark.parametrize("package", FACES)
def test_every_name_a_face_shows_resolves(package: str) -> None:
    face = importlib.import_module(f"paywindow.{package}")
    assert face.__all__, package
    for name in face.__all__:
        assert getattr(face, name) is not None, f"paywindow.{package}.{name}"
    with pytest.raises(AttributeError):
        _ = face.no_such_name
    # a name that is also a submodule would be shadowed by the module once it is imported
    modules = {p.stem for p in (SRC / "paywindow" / package).glob("*.py")}
    assert set(face.__all__) & modules == set()


def test_imports_go_downwards_and_siblings_meet_through_faces() -> None:
    upward, private = [], []
    for module, _path, tree in MODULES:
        mine = _top(module)
        for target in _imports(tree):
            if not target.startswith("paywindow."):
                continue
            theirs = _top(target)
            if LAYERS.get(theirs, 0) > LAYERS.get(mine, 0):
                upward.append(f"{module} -> {target}")
            sibling = theirs != mine and 3 <= LAYERS.get(theirs, 0) < 4
            if sibling and 3 <= LAYERS.get(mine, 0) < 4 and target.count(".") >= 2:
                private.append(f"{module} -> {target}")
    assert upward == []
    assert private == []


def test_the_domain_never_imports_a_shell_framework() -> None:
    found = [
        f"{module} -> {target}"
        for module, _path, tree in MODULES
        if LAYERS.get(_top(module), 0) < 4
        for target in _imports(tree)
        if target.split(".")[0] in SHELL_FRAMEWORKS
    ]
    assert found == []


def test_only_the_adapters_name_third_party_errors() -> None:
    found = []
    for module, path, tree in MODULES:
        where = path.relative_to(SRC / "paywindow").as_posix()
        if where.startswith(ADAPTERS):
            continue
        for target in _imports(tree):
            if target.split(".")[0] == "botocore":
                found.append(f"{module} imports {target}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "stripe"
                and node.attr.endswith("Error")
            ):
                found.append(f"{module} names stripe.{node.attr}")
    assert found == []
