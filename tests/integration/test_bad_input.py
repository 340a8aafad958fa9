"""Bad input gets a clear, recorded error and a dead letter; the consumer goes on with the rest."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from hub.app import Hub
from hub.settings import HubSettings
from sandbox.demo.driver import malformed
from tests.factories import make_envelope, make_release_order

from .harness import amqp, database, send, wait_for
from .test_delivery import COURT

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _doc(**changes: object) -> bytes:
    doc = json.loads(make_envelope(make_release_order()).to_json())
    doc.update(changes)
    return json.dumps(doc).encode()


BAD = [
    ("not_json", malformed("not_json", NOW), "malformed_json"),
    ("binary", os.urandom(512), "malformed_json"),
    ("json_array", b"[1, 2, 3]", "invalid_envelope"),
    ("bad_cnj", malformed("bad_cnj", NOW), "invalid_payload"),
    ("unknown_kind", malformed("unknown_kind", NOW), "unknown_kind"),
    ("old_schema", malformed("old_schema", NOW), "unsupported_schema_version"),
    ("kind_mismatch", malformed("wrong_queue", NOW), "invalid_envelope"),
    ("large", _doc(padding="x" * 500_000), "invalid_envelope"),  # under the size limit: parsed
    ("huge", _doc(padding="x" * 2_000_000), "too_large"),  # over it: refused before parsing
    ("naive_time", _doc(occurred_at="2026-11-22T12:00:00"), "invalid_envelope"),
    # PostgreSQL's text refuses NUL: the dead letter must still be stored (shown as U+FFFD)
    ("nul_in_kind", _doc(kind="court.release_order.issued\u0000"), "unknown_kind"),
    ("nul_in_correlation", _doc(correlation_id="\u0000"), "invalid_envelope"),
]


# headers a sender may set that the hub reads: a retry count past any column's range
BAD_HEADERS = [
    ("huge_attempt", {"x-hub-attempt": 3_000_000_000}),
    ("text_attempt", {"x-hub-attempt": "many"}),
]


@pytest.mark.parametrize(
    ("name", "body", "reason", "headers"),
    [(*b, None) for b in BAD]
    + [(n, malformed("not_json", NOW), "malformed_json", h) for n, h in BAD_HEADERS],
    ids=[b[0] for b in BAD] + [n for n, _ in BAD_HEADERS],
)
async def test_each_bad_input_is_dead_lettered_with_its_reason(
    settings: HubSettings, name: str, body: bytes, reason: str, headers: dict[str, object] | None
) -> None:
    """The bad message is parked with its reason; a good one sent after it is processed."""
    good = make_envelope(make_release_order())
    async with Hub(settings, specs=[COURT], background=False):
        async with amqp(settings) as ch:
            await send(ch, "hub.court.in", body, headers=headers)
            await send(ch, "hub.court.in", good)

        async def both() -> object:
            async with database(settings) as db:
                letter = await db.fetchrow("SELECT reason, error_message FROM dead_letters")
                order = await db.fetchval("SELECT state FROM release_orders")
            return letter is not None and order is not None and letter

        letter = await wait_for(both, what=f"{name} parked and the good order processed")
    assert letter["reason"] == reason
    assert letter["error_message"]


async def test_a_10_mb_message_is_refused_before_parsing_and_the_hub_keeps_serving(
    settings: HubSettings,
) -> None:
    """Refused `too_large` without being parsed; its dead letter keeps the first
    `max_message_bytes` and says how large it was; a good order sent after it flows."""
    huge = b"{" + b" " * 10_000_000 + b"}"
    good = make_envelope(make_release_order())
    async with Hub(settings, specs=[COURT], background=False):
        async with amqp(settings) as ch:
            await send(ch, "hub.court.in", huge)
            await send(ch, "hub.court.in", good)

        async def both() -> object:
            async with database(settings) as db:
                letter = await db.fetchrow(
                    "SELECT reason, length(body) AS kept, headers FROM dead_letters"
                )
                order = await db.fetchval("SELECT state FROM release_orders")
            return letter is not None and order is not None and letter

        letter = await wait_for(both, what="the huge message parked and the good order processed")
    assert letter["reason"] == "too_large"
    assert letter["kept"] == settings.rabbit.max_message_bytes
    headers = (
        letter["headers"] if isinstance(letter["headers"], dict) else json.loads(letter["headers"])
    )
    assert headers["x-hub-body-truncated-from"] == len(huge)


async def test_headers_near_the_frame_size_are_refused_and_the_connection_lives(
    settings: HubSettings,
) -> None:
    """127 kB of a sender's headers (under RabbitMQ's 128 KiB frame): refused `too_large`, and the
    dead letter the hub publishes does not carry them (one over the frame size would close the
    hub's whole connection); a good order sent after it flows."""
    padding = {f"x-pad-{i}": "p" * 1000 for i in range(127)}
    good = make_envelope(make_release_order())
    async with Hub(settings, specs=[COURT], background=False):
        async with amqp(settings) as ch:
            await send(ch, "hub.court.in", make_envelope(make_release_order()), headers=padding)
            await send(ch, "hub.court.in", good)

        async def both() -> object:
            async with database(settings) as db:
                letters = await db.fetch("SELECT reason, headers FROM dead_letters")
                order = await db.fetchval("SELECT state FROM release_orders")
            return len(letters) == 1 and order is not None and letters[0]

        letter = await wait_for(both, what="the padded message parked and the good order processed")
    assert letter["reason"] == "too_large"
    raw = letter["headers"]
    headers = raw if isinstance(raw, dict) else json.loads(raw)
    assert not [k for k in headers if k.startswith("x-pad-")]
