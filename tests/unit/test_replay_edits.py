"""Edit-and-replay is guarded: a valid message, a new id, and nothing it is about may change."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest

from contracts.envelope import AnyPayload
from hub.ops.edits import EditedMessage, changed_paths, edit_message
from hub.ops.replay import Verdict
from tests.factories import (
    ORDER,
    make_envelope,
    make_receipt,
    make_release_order,
    make_revocation,
    make_warrant,
)

NEW_ID = UUID("00000000-0000-4000-8000-0000000000ff")
ORIGINAL = make_envelope(make_receipt()).to_bytes()


def edited(**changes: Any) -> str:
    """The original message as JSON text with `changes` applied (dotted keys reach the payload)."""
    doc = json.loads(ORIGINAL)
    for key, value in changes.items():
        target = doc
        *path, last = key.split("__")
        for part in path:
            target = target[part]
        target[last] = value
    return json.dumps(doc)


def test_an_accepted_edit_gets_a_new_id_and_lists_the_changed_paths() -> None:
    """The wrapper may be repaired: the copy keeps its content, not the original's id; only paths
    are reported."""
    result = edit_message(ORIGINAL, edited(occurred_at="2024-03-01T16:00:00Z"), NEW_ID)
    assert isinstance(result, EditedMessage)
    assert result.envelope.message_id == NEW_ID
    assert json.loads(result.body)["message_id"] == str(NEW_ID)
    assert result.changed == ("occurred_at",)


def test_an_unknown_payload_key_may_be_dropped() -> None:
    """A sender's extra key the contract refuses is removed by an edit: the rest stays as sent."""
    doc = json.loads(ORIGINAL)
    doc["payload"]["extra"] = "added by the unit's system"
    result = edit_message(json.dumps(doc).encode(), ORIGINAL.decode(), NEW_ID)
    assert isinstance(result, EditedMessage)
    assert result.changed == ("payload.extra",)


@pytest.mark.parametrize(
    ("changes", "locked"),
    [
        ({"correlation_id": f"{ORDER[:-1]}9"}, "correlation_id"),
        ({"secrecy": "secret"}, "secrecy"),
        ({"payload__order_number": f"{ORDER[:-1]}9"}, "payload.order_number"),
        ({"source__system": "OTHER"}, "source"),
        ({"payload__unit": "mg.other-unit"}, "payload.unit"),
        ({"payload__received_at": "2024-03-01T12:00:00Z"}, "payload.received_at"),
        ({"payload__received_by__name": "Outro Nome"}, "payload.received_by"),
        ({"payload__received_by__role": "diretor"}, "payload.received_by"),
    ],
    ids=["correlation", "secrecy", "business key", "source", "unit", "time", "person", "role"],
)
def test_an_edit_may_not_change_what_the_message_says(changes: dict[str, Any], locked: str) -> None:
    """The envelope's kind, correlation, source and secrecy, and every payload field its contract
    defines (the person, the unit, the times a deadline reads) are locked."""
    result = edit_message(ORIGINAL, edited(**changes), NEW_ID)
    assert isinstance(result, Verdict)
    assert result.code == "locked_field"
    assert locked in result.why


def test_a_field_the_original_lacked_may_not_be_added() -> None:
    """A truncated message cannot be completed by hand: adding a locked field changes it too."""
    doc = json.loads(ORIGINAL)
    del doc["payload"]["received_at"]
    result = edit_message(json.dumps(doc).encode(), ORIGINAL.decode(), NEW_ID)
    assert isinstance(result, Verdict)
    assert (result.code, "payload.received_at" in result.why) == ("locked_field", True)


@pytest.mark.parametrize(
    "payload",
    [make_release_order(), make_warrant(), make_revocation()],
    ids=lambda p: p.kind,
)
def test_a_court_document_is_never_edited(payload: AnyPayload) -> None:
    """A court signs its documents' exact bytes: an edited copy would be unsigned, so even a
    repair of the wrapper is refused."""
    original = make_envelope(payload).to_bytes()
    doc = json.loads(original)
    doc["occurred_at"] = "2024-03-01T16:00:00Z"
    result = edit_message(original, json.dumps(doc), NEW_ID)
    assert isinstance(result, Verdict)
    assert result.code == "signed_document"


def test_an_edit_must_be_a_valid_message() -> None:
    """An edited body the contracts reject is refused with their reason."""
    result = edit_message(ORIGINAL, edited(payload__received_at="yesterday"), NEW_ID)
    assert isinstance(result, Verdict)
    assert result.code == "invalid_edit"


def test_an_unchanged_body_is_not_an_edit() -> None:
    """Replaying the original through the editor is refused: a plain replay does that."""
    result = edit_message(ORIGINAL, ORIGINAL.decode(), NEW_ID)
    assert isinstance(result, Verdict)
    assert result.code == "no_change"


@pytest.mark.parametrize(
    "original",
    [b"\xff not json", b"[1, 2]", b'{"payload": {}}'],
    ids=["not json", "not an object", "no kind"],
)
def test_an_original_that_names_nothing_cannot_be_edited(original: bytes) -> None:
    """Without a JSON message naming its kind there is nothing to hold an edit to: the "edit"
    would be a message the operator wrote, so the sender must send it again."""
    result = edit_message(original, ORIGINAL.decode(), NEW_ID)
    assert isinstance(result, Verdict)
    assert result.code == "unanchored"


@pytest.mark.parametrize(
    ("a", "b", "paths"),
    [
        ({"x": 1}, {"x": 1}, []),
        ({"x": 1}, {"x": 2}, ["x"]),
        ({"x": {"y": [1, 2]}}, {"x": {"y": [1, 3]}}, ["x.y[1]"]),
        ({"x": [1]}, {"x": [1, 2]}, ["x"]),
        ({"x": 1}, {"z": 1}, ["x", "z"]),
        (1, 2, ["$"]),
    ],
)
def test_changed_paths_name_where_documents_differ(a: object, b: object, paths: list[str]) -> None:
    """Differences are reported as JSON paths, never as values."""
    assert changed_paths(a, b) == paths
