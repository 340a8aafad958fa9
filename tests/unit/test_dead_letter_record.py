"""A dead letter's stored form is built from whatever arrived, and can always be stored."""

from __future__ import annotations

import json

import pytest

from hub.pipeline.parker import parked_from

NUL = "\x00"


@pytest.mark.parametrize(
    ("body", "headers", "message_id", "field", "expected"),
    [
        # the body's kind and correlation id are shown to operators: a NUL cannot go to text
        (json.dumps({"kind": f"a{NUL}b"}).encode(), {}, None, "kind", "a\ufffdb"),
        (json.dumps({"correlation_id": NUL}).encode(), {}, None, "correlation_id", "\ufffd"),
        (b"{}", {"x-hub-error-reason": f"r{NUL}"}, None, "reason", "r\ufffd"),
        (b"{}", {"x-hub-error-message": NUL * 3}, None, "error_message", "\ufffd" * 3),
        # an AMQP message id that is no UUID cannot go to the uuid column: kept in the headers
        (b"{}", {}, "not-a-uuid", "message_id", None),
        (b"{}", {"x-hub-attempt": "three"}, None, "attempts", 0),
        (b"{}", {"x-hub-attempt": -4}, None, "attempts", 0),
        (b"{}", {"x-hub-attempt": 2}, None, "attempts", 2),
        (b"{}", {"x-hub-attempt": 3_000_000_000}, None, "attempts", 2**31 - 1),  # int32 column
    ],
)
def test_fields_are_storable(
    body: bytes, headers: dict[str, object], message_id: str | None, field: str, expected: object
) -> None:
    """Each field is the sender's value, made storable."""
    p = parked_from("court", body, headers, message_id, None, None)
    assert getattr(p, field) == expected


def test_headers_keep_everything_but_nul() -> None:
    """Header keys and values, nested ones too, lose only their NULs; a bad id is kept there."""
    headers = {f"x{NUL}": [f"v{NUL}", {"k": NUL}], "n": 1}
    p = parked_from("court", b"", headers, f"id{NUL}", None, None)
    assert p.headers == {
        "x\ufffd": ["v\ufffd", {"k": "\ufffd"}],
        "n": 1,
        "x-hub-original-message-id": "id\ufffd",
    }
    assert NUL not in json.dumps(p.headers, ensure_ascii=False)
