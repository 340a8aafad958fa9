"""The contracts package has an explicit, sorted public surface and stays pure."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import contracts

ALLOWED_IMPORTS = frozenset(
    {
        "__future__",
        "collections",
        "contracts",
        "datetime",
        "decimal",
        "enum",
        "json",
        "pydantic",
        "pydantic_core",
        "re",
        "types",
        "typing",
        "uuid",
    }
)
# Validation helpers shared by the contract modules; not part of the package surface.
INTERNAL = frozenset({"require_not_after", "require_process_prefix", "require_year_not_after"})
MODULES = sorted(m.name for m in pkgutil.iter_modules(contracts.__path__))
SOURCES = {name: Path(contracts.__path__[0], f"{name}.py") for name in MODULES}


def _ruff_order(name: str) -> tuple[bool, bool, str]:
    # RUF022's isort-style order: SCREAMING_CASE, then CamelCase, then the rest.
    return (not name.isupper(), not name[:1].isupper(), name)


@pytest.mark.parametrize("module", ["__init__", *MODULES])
def test_every_module_declares_a_sorted_all(module: str) -> None:
    """Each module lists its public names in `__all__`, sorted, and each name exists."""
    mod = contracts if module == "__init__" else importlib.import_module(f"contracts.{module}")
    names = list(mod.__all__)
    assert names == sorted(names, key=_ruff_order)
    assert all(hasattr(mod, name) for name in names)


def test_the_package_re_exports_every_public_name() -> None:
    """Everything public in a submodule is importable from `contracts` itself."""
    for module in MODULES:
        mod = importlib.import_module(f"contracts.{module}")
        missing = set(mod.__all__) - set(contracts.__all__) - INTERNAL
        assert not missing, (module, missing)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("module", MODULES)
def test_modules_import_only_pure_dependencies(module: str) -> None:
    """Contracts import only pydantic, typing and non-I/O stdlib modules, and call no `open`."""
    path = SOURCES[module]
    assert _imports(path) <= ALLOWED_IMPORTS
    calls = {
        node.func.id
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert "open" not in calls


@pytest.mark.parametrize("module", MODULES)
def test_modules_stay_small(module: str) -> None:
    """Modules stay within the house limit of 400 lines."""
    assert len(SOURCES[module].read_text(encoding="utf-8").splitlines()) <= 400
