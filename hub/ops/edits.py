"""Edit-and-replay, guarded (pure): what an admin may change in a dead letter before replaying it.

What a message says is its sender's; the hub may only repair its wrapper. So an edit:

* is refused for a court's documents (`court.*`): the court signs their exact bytes
  (`connectors.court.signing`), so any change is a document the court never signed — the court
  sends it again;
* is refused when the original is not a JSON object naming its kind: there is nothing to anchor
  the edit to, and an "edit" would be a message written by the operator;
* may not change the envelope's kind, correlation id, source or secrecy, nor any field of the
  payload that its contract defines — the person and every field a decision reads among them,
  including adding one the original lacked. It may fix the envelope's `schema_version`,
  `occurred_at` and `causation_id`, and drop payload keys the contract does not know.

The edited copy gets a new message id; the audit records which paths changed, never the values,
and a second admin approves it before it runs (`hub.ops.approvals`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from contracts import ContractError, Envelope, parse_envelope
from contracts.envelope import PAYLOAD_TYPES
from hub.ops.replay import Verdict

__all__ = ["EDITABLE_ENVELOPE", "EditedMessage", "changed_paths", "edit_message", "locked_paths"]

# The envelope fields an edit may repair: none of them is read by a decision.
EDITABLE_ENVELOPE: Final = frozenset({"schema_version", "occurred_at", "causation_id"})


@dataclass(frozen=True)
class EditedMessage:
    """An accepted edit: the new message (with its new id), its bytes, and the paths changed."""

    envelope: Envelope
    body: bytes
    changed: tuple[str, ...]


def _json_object(raw: bytes | str) -> dict[str, Any] | None:
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


_ABSENT: Final = object()


def locked_paths(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The locked paths whose value differs between the original and the edit (absent counts as
    a value): every envelope field but `EDITABLE_ENVELOPE` and `message_id`, and every payload
    field the original's kind defines."""
    envelope = (set(before) | set(after)) - EDITABLE_ENVELOPE - {"message_id", "payload"}
    out = [k for k in sorted(envelope) if before.get(k, _ABSENT) != after.get(k, _ABSENT)]
    old, new = before.get("payload"), after.get("payload")
    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    model = PAYLOAD_TYPES.get(str(before.get("kind")))
    defined = set(model.model_fields) if model else set(old) | set(new)
    return out + [
        f"payload.{k}" for k in sorted(defined) if old.get(k, _ABSENT) != new.get(k, _ABSENT)
    ]


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


def _refuse(code: str, why: str) -> Verdict:
    return Verdict(False, code, why)


def edit_message(original: bytes, edited: str, new_id: UUID) -> EditedMessage | Verdict:
    """Check an admin's edit and give it a new message id; a refusal says what is wrong."""
    before = _json_object(original)
    if before is None or not isinstance(before.get("kind"), str):
        return _refuse(
            "unanchored",
            "the original is not a JSON message naming its kind: an edit would be a new message "
            "written by the operator; the sender must send it again",
        )
    if str(before["kind"]).startswith("court."):
        return _refuse(
            "signed_document",
            "a court's document is signed over its exact bytes: an edited copy is a document the "
            "court never signed; the court must send it again",
        )
    try:
        env = parse_envelope(edited)
    except ContractError as e:
        return _refuse("invalid_edit", f"the edited body is not a valid message: {e}")
    renewed = env.model_copy(update={"message_id": new_id})
    after = json.loads(renewed.to_json())
    if locked := locked_paths(before, after):
        return _refuse(
            "locked_field",
            f"an edit may not change {', '.join(locked)}: what the message says is its sender's",
        )
    compare = {k: v for k, v in before.items() if k != "message_id"}
    changed = changed_paths(compare, {k: v for k, v in after.items() if k != "message_id"})
    if not changed:
        return _refuse("no_change", "the edited body is the original: use a plain replay")
    return EditedMessage(renewed, renewed.to_bytes(), tuple(changed))
