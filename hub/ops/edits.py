"""Edit-and-replay, guarded (pure): what an admin may change in a dead letter before replaying it.

The edited body must be a valid message and may not change what it is about: kind, correlation id,
source, secrecy and the business key (order, warrant or document number) are locked, so an edit
cannot retarget a message to another person, order or destination. The edited copy gets a new
message id; the audit records which paths changed, never the values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from contracts import ContractError, Envelope, parse_envelope
from hub.ops.replay import Verdict

__all__ = ["EditedMessage", "changed_paths", "edit_message"]


@dataclass(frozen=True)
class EditedMessage:
    """An accepted edit: the new message (with its new id), its bytes, and the paths changed."""

    envelope: Envelope
    body: bytes
    changed: tuple[str, ...]


_KEY_FIELDS: Final = (
    "order_number",
    "warrant_number",
    "document_number",
    "subject_id",
    "counter_warrant_number",
)


def _json_object(raw: bytes | str) -> dict[str, object] | None:
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _locked_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    locked = [
        name
        for name in ("kind", "correlation_id", "source", "secrecy")
        if name in before and before[name] != after.get(name)
    ]
    old, new = before.get("payload"), after.get("payload")
    if isinstance(old, dict) and isinstance(new, dict):
        locked += [f"payload.{k}" for k in _KEY_FIELDS if k in old and old[k] != new.get(k)]
    return locked


def changed_paths(a: object, b: object, prefix: str = "") -> list[str]:
    """The JSON paths where two documents differ (never their values)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            out += changed_paths(a.get(key), b.get(key), path) if key in a and key in b else [path]
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [p for i, (x, y) in pairs for p in changed_paths(x, y, f"{prefix}[{i}]")]
    return [] if a == b else [prefix or "$"]


def edit_message(original: bytes, edited: str, new_id: UUID) -> EditedMessage | Verdict:
    """Check an admin's edit and give it a new message id; a refusal says what is wrong."""
    try:
        env = parse_envelope(edited)
    except ContractError as e:
        return Verdict(False, "invalid_edit", f"the edited body is not a valid message: {e}")
    renewed = env.model_copy(update={"message_id": new_id})
    after = json.loads(renewed.to_json())
    before = _json_object(original)
    if before is not None and (locked := _locked_changes(before, after)):
        return Verdict(False, "locked_field", f"an edit may not change {', '.join(locked)}")
    compare = {k: v for k, v in (before or {}).items() if k != "message_id"}
    changed = changed_paths(compare, {k: v for k, v in after.items() if k != "message_id"})
    if before is not None and not changed:
        return Verdict(False, "no_change", "the edited body is the original: use a plain replay")
    return EditedMessage(renewed, renewed.to_bytes(), tuple(changed))
