"""The committed JSON Schemas in contracts/schemas/ match the models."""

from __future__ import annotations

import json
from pathlib import Path

from contracts import KINDS, message_schemas, render_schema, schema_filename

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
FIX = "run `python -m hub schemas` and commit contracts/schemas/"


def test_committed_schemas_match_the_models() -> None:
    """Every schema file is exactly what `message_schemas()` renders, with none missing or extra."""
    expected = {schema_filename(name): render_schema(s) for name, s in message_schemas().items()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.json")}
    missing = sorted(expected.keys() - committed.keys())
    extra = sorted(committed.keys() - expected.keys())
    stale = sorted(n for n in expected.keys() & committed.keys() if expected[n] != committed[n])
    problems = {"missing": missing, "extra": extra, "stale": stale}
    assert not any(problems.values()), f"{FIX}: {problems}"


def test_there_is_one_schema_per_kind_plus_the_envelope() -> None:
    """`message_schemas()` names every kind and "envelope"; each is a closed object schema."""
    schemas = message_schemas()
    assert set(schemas) == {*KINDS, "envelope"}
    for kind in KINDS:
        assert schemas[kind]["additionalProperties"] is False
        assert schemas[kind]["required"][0] == "kind"
        assert schemas[kind]["properties"]["kind"]["const"] == kind


def test_render_schema_format() -> None:
    """Schemas are rendered with sorted keys, a 2-space indent and a final newline."""
    text = render_schema({"b": 1, "a": [1]})
    assert text == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}\n'
    assert json.loads(text) == {"a": [1], "b": 1}
