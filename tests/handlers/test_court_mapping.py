"""The court webhook's signature as tables: a published HMAC-SHA256 vector, and what fails.

The signature is HMAC-SHA256 over `<t>.<message id>.<body>` (`connectors.court.mapping`); the
primitive is checked on a public vector (RFC 2104 HMAC-SHA256 of the classic pangram with key
"key", as in Wikipedia's HMAC article).
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors.court.mapping import SIGNATURE_HEADER, WINDOW_S, sign, verify

PANGRAM = b"The quick brown fox jumps over the lazy dog"
PANGRAM_HMAC = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
AT, MID, BODY, SECRET = 1_700_000_000, "7f0c6a2e-0000-4000-8000-000000000001", b"{}", "s" * 24


def test_the_mac_is_hmac_sha256_of_the_laid_out_text() -> None:
    """HMAC-SHA256 (checked on the published vector) over `<t>.<id>.<body>`, hex, as `t=…,v1=…`."""
    assert hmac.new(b"key", PANGRAM, hashlib.sha256).hexdigest() == PANGRAM_HMAC
    expected = hmac.new(SECRET.encode(), f"{AT}.{MID}.".encode() + BODY, hashlib.sha256)
    assert sign(SECRET, BODY, MID, AT) == f"t={AT},v1={expected.hexdigest()}"


GOOD = sign(SECRET, BODY, MID, AT)


@pytest.mark.parametrize(
    ("secret", "body", "message_id", "signature", "now"),
    [
        (SECRET, BODY, MID, None, AT),  # no header at all
        (SECRET, BODY, MID, "", AT),
        (SECRET, BODY, MID, GOOD.split(",")[1], AT),  # no timestamp
        (SECRET, BODY, MID, GOOD.upper(), AT),
        (SECRET, BODY, MID, GOOD[:-1], AT),  # truncated
        (SECRET, BODY + b"\n", MID, GOOD, AT),  # the body changed by one byte
        ("t" * 24, BODY, MID, GOOD, AT),  # another court's secret
        (SECRET, BODY, MID.replace("1", "2"), GOOD, AT),  # another message's id
        (SECRET, BODY, None, GOOD, AT),  # no message id
        (SECRET, BODY, MID, GOOD.replace(f"t={AT}", f"t={AT + 1}"), AT),  # timestamp moved
        (SECRET, BODY, MID, GOOD, AT + WINDOW_S + 1),  # replayed after the window
        (SECRET, BODY, MID, GOOD, AT - WINDOW_S - 1),  # from the future
    ],
    ids=[
        "missing",
        "empty",
        "no-timestamp",
        "uppercase",
        "truncated",
        "body-changed",
        "other-secret",
        "other-message",
        "no-message-id",
        "timestamp-moved",
        "too-late",
        "too-early",
    ],
)
def test_verify_refuses(
    secret: str, body: bytes, message_id: str | None, signature: str | None, now: int
) -> None:
    """Anything but the exact signature of these bytes, this id, this secret, in time, fails."""
    assert not verify(secret, body, message_id, signature, now)


@pytest.mark.parametrize("now", [AT, AT + WINDOW_S, AT - WINDOW_S])
def test_verify_accepts_within_the_window(now: int) -> None:
    """The hub's own signature verifies up to five minutes either side of its timestamp."""
    assert verify(SECRET, BODY, MID, GOOD, now)


def test_the_header_name() -> None:
    """The signature travels in `X-Hub-Signature`, the header the court systems read."""
    assert SIGNATURE_HEADER == "X-Hub-Signature"
