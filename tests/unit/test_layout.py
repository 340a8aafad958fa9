"""The tree says the architecture: few top-level modules, SQL only in the store, the sandbox out of
the wheel. (The import arrows are `lint-imports`'s, from pyproject.toml.)"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HUB = ROOT / "hub"
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT INTO|UPDATE \w+ SET|DELETE FROM|CREATE TABLE)\b", re.S
)


def test_hub_has_at_most_twelve_top_level_modules() -> None:
    """Everything else lives in a layer's package (domain, amqp, store, http, pipeline, ops)."""
    modules = sorted(p.name for p in HUB.glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= 12, modules


def _sql_strings(path: Path) -> list[str]:
    """String literals of `path` that are SQL statements (docstrings aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and SQL.search(node.value)
    ]


def test_no_sql_outside_the_store() -> None:
    """A column rename is a change to `hub/store` alone."""
    found = {
        str(p.relative_to(ROOT)): _sql_strings(p)
        for p in HUB.rglob("*.py")
        if "store" not in p.relative_to(HUB).parts
    }
    assert {k: v for k, v in found.items() if v} == {}


def test_the_check_sees_sql() -> None:
    """The store itself is full of it: the pattern is not blind."""
    assert _sql_strings(HUB / "store" / "state_repo.py")


def _outside(ignore: Any) -> Any:
    """Copy what a clone has, less the virtual environment, caches and build output."""

    def skip(folder: str, names: list[str]) -> set[str]:
        skipped = set(ignore(folder, names))
        if Path(folder) == ROOT:
            skipped |= {n for n in names if n in {"tests", "bench", "deploy", "artifacts"}}
        return skipped

    return skip


@pytest.mark.slow
def test_the_wheel_carries_the_product_only(tmp_path: Path) -> None:
    """No simulated world, demo or fault suite in what is installed; the migrations and the
    dashboard's files are there."""
    src = tmp_path / "src"  # a copy: setuptools leaves build/ beside what it builds
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".*")
    shutil.copytree(ROOT, src, ignore=_outside(ignore))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"contracts", "hub", "connectors"}
    assert not [n for n in names if re.search(r"simulat|demo|fault|sandbox", n)]
    assert any(n.startswith("hub/store/migrations/") and n.endswith(".sql") for n in names)
    assert "hub/ops/static/index.html" in names
