"""The court webhook's signature as tables: published HMAC-SHA256 vectors, and what fails to verify.

The vectors are public, not computed here: RFC 2104 HMAC-SHA256 of the classic pangram (as in
Wikipedia's HMAC article) and the example of GitHub's "Validating webhook deliveries" page, whose
`sha256=<hex>` value the hub sends.
"""

from __future__ import annotations

import pytest

from connectors.court.mapping import SIGNATURE_HEADER, sign, verify

PANGRAM = b"The quick brown fox jumps over the lazy dog"
PANGRAM_SIG = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIG = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [("key", PANGRAM, PANGRAM_SIG), (GITHUB_SECRET, GITHUB_BODY, GITHUB_SIG)],
    ids=["rfc2104-pangram", "github-example"],
)
def test_sign_matches_published_vectors(secret: str, body: bytes, signature: str) -> None:
    """`sign` is HMAC-SHA256 over the raw body, hex, prefixed `sha256=`; `verify` accepts it."""
    assert sign(secret, body) == signature
    assert verify(secret, body, signature)


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [
        ("key", PANGRAM, None),  # no header at all
        ("key", PANGRAM, ""),
        ("key", PANGRAM, PANGRAM_SIG.removeprefix("sha256=")),  # bare hex
        ("key", PANGRAM, PANGRAM_SIG.upper()),
        ("key", PANGRAM, PANGRAM_SIG.replace("sha256=", "sha1=")),
        ("key", PANGRAM, PANGRAM_SIG[:-1]),  # truncated
        ("key", PANGRAM + b"\n", PANGRAM_SIG),  # the body changed by one byte
        ("Key", PANGRAM, PANGRAM_SIG),  # another court's secret
        (GITHUB_SECRET, PANGRAM, GITHUB_SIG),  # a signature of another body
    ],
    ids=[
        "missing",
        "empty",
        "no-prefix",
        "uppercase",
        "other-algorithm",
        "truncated",
        "body-changed",
        "other-secret",
        "other-body",
    ],
)
def test_verify_refuses(secret: str, body: bytes, signature: str | None) -> None:
    """Anything but the exact signature of these bytes with this secret is refused."""
    assert not verify(secret, body, signature)


def test_the_header_name() -> None:
    """The signature travels in `X-Hub-Signature`, the header the court systems read."""
    assert SIGNATURE_HEADER == "X-Hub-Signature"
