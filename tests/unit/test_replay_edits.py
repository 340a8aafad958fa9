"""Edit-and-replay is guarded: a valid message, a new id, and nothing it is about may change."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest

from hub.ops.edits import EditedMessage, changed_paths, edit_message
from hub.ops.replay import Verdict
from tests.factories import ORDER, make_envelope, make_receipt

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
    """The copy keeps its content but not the original's message id; only paths are reported."""
    result = edit_message(ORIGINAL, edited(payload__received_by__role="diretor"), NEW_ID)
    assert isinstance(result, EditedMessage)
    assert result.envelope.message_id == NEW_ID
    assert json.loads(result.body)["message_id"] == str(NEW_ID)
    assert result.changed == ("payload.received_by.role",)


@pytest.mark.parametrize(
    ("changes", "locked"),
    [
        ({"correlation_id": f"{ORDER[:-1]}9"}, "correlation_id"),
        ({"secrecy": "secret"}, "secrecy"),
        ({"payload__order_number": f"{ORDER[:-1]}9"}, "payload.order_number"),
        ({"source__system": "OTHER"}, "source"),
    ],
)
def test_an_edit_may_not_change_what_the_message_is_about(
    changes: dict[str, Any], locked: str
) -> None:
    """Kind, correlation, business key, source and secrecy are locked against edits."""
    result = edit_message(ORIGINAL, edited(**changes), NEW_ID)
    assert isinstance(result, Verdict)
    assert result.code in ("locked_field", "invalid_edit")
    if result.code == "locked_field":
        assert locked in result.why


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


def test_a_broken_original_can_be_fixed_by_an_edit() -> None:
    """When the original is not JSON there is nothing to lock: a valid edit is accepted."""
    result = edit_message(b"\xff not json", ORIGINAL.decode(), NEW_ID)
    assert isinstance(result, EditedMessage)


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
