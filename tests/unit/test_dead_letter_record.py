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
    p = parked_from(
        "court", body, headers, message_id, None, None, user_id="hub", hub_logins={"hub"}
    )
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


FORGED = {
    "x-hub-error-reason": "operator_approved",
    "x-hub-error-type": "Nothing",
    "x-hub-failed-queue": "hub.bnmp.out",
    "x-hub-attempt": 9,
    "X-Hub-Sender-Login": "hub",
}
# A sender can write x-death itself, and the broker keeps a matching entry (same queue and reason)
# when it dead-letters, only counting it up: its exchange must name nobody.
DEATH = {
    "x-first-death-reason": "delivery_limit",
    "x-first-death-queue": "hub.custodial_unit.in",
    "x-death": [{"exchange": "hub.custodial_unit.mg.other.in", "queue": "hub.custodial_unit.in"}],
}


@pytest.mark.parametrize(
    ("user_id", "reason", "queue", "attempts", "sender"),
    [
        # a unit's poison message, dead-lettered by the broker: its x-hub-* headers are forged
        (None, "broker_delivery_limit", "hub.custodial_unit.in", 0, {}),
        (
            "unit-mg.a",
            "broker_delivery_limit",
            "hub.custodial_unit.in",
            0,
            {"x-hub-sender-login": "unit-mg.a"},
        ),
        # the same headers on a dead letter the hub published are the hub's, and believed
        ("hub", "operator_approved", "hub.bnmp.out", 9, None),
    ],
    ids=["anonymous", "unit_login", "hub"],
)
def test_a_senders_hub_headers_earn_no_trust(
    user_id: str | None, reason: str, queue: str, attempts: int, sender: dict[str, str] | None
) -> None:
    """Only the hub's own dead letters are believed about why and where they failed; a message
    the broker dead-lettered records its sender by its checked login alone, never by the
    exchange in an `x-death` the sender may have written."""
    p = parked_from(
        "custodial_unit",
        b"{}",
        FORGED | DEATH,
        None,
        None,
        None,
        user_id=user_id,
        hub_logins={"hub"},
    )
    assert (p.reason, p.queue, p.attempts) == (reason, queue, attempts)
    if sender is not None:
        assert {k: v for k, v in p.headers.items() if k.lower().startswith("x-hub-")} == sender
