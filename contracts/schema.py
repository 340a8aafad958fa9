"""JSON Schema of every message, derived from the models; `python -m hub schemas` writes them.

The committed files are `contracts/schemas/<name>.json` for each name of `message_schemas()`
(every kind, plus "envelope"), each written as `json.dumps(schema, indent=2, sort_keys=True)`
followed by a newline (`render_schema`).
"""

from __future__ import annotations

import json
from typing import Any

from contracts.envelope import PAYLOAD_TYPES, Envelope

__all__ = ["ENVELOPE_SCHEMA_NAME", "message_schemas", "render_schema", "schema_filename"]

ENVELOPE_SCHEMA_NAME = "envelope"


def message_schemas() -> dict[str, dict[str, Any]]:
    """Return the validation JSON Schema of each payload kind, and of the envelope."""
    schemas = {kind: cls.model_json_schema() for kind, cls in sorted(PAYLOAD_TYPES.items())}
    schemas[ENVELOPE_SCHEMA_NAME] = Envelope.model_json_schema()
    return schemas


def render_schema(schema: dict[str, Any]) -> str:
    """Return the exact text committed for a schema: sorted keys, 2-space indent, final newline."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def schema_filename(name: str) -> str:
    """Return the file name under `contracts/schemas/` for a schema name, e.g. `envelope.json`."""
    return f"{name}.json"
