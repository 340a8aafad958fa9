"""What a failed message carries to the retry ladder or its dead letter (the consumer's
`_redirect`, pure but for a metric)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts import ContractError
from hub.domain.retry import Decision
from hub.domain.sender import Sender
from hub.errors import OutOfOrder
from hub.pipeline.consumer import ERROR_HEADERS, Received, _redirect

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SENDER = {"x-hub-sender-login": "unit-mg.a", "x-hub-sender-exchange": "hub.custodial_unit.mg.a.in"}


def _received(**headers: object) -> Received:
    return Received(
        "hub.custodial_unit.in",
        b"{}",
        SENDER | dict(headers),
        "m-1",
        "c-1",
        "custodial_unit.receipt.acknowledged",
        Sender("unit-mg.a", "hub.custodial_unit.mg.a.in"),
    )


@pytest.mark.parametrize(
    ("decision", "error", "has_error_headers"),
    [
        (Decision("retry", 0.3, "out_of_order"), OutOfOrder("not yet"), False),
        (Decision("dead_letter", None, "wrong_sender"), ContractError("no", reason="x"), True),
    ],
    ids=["retry", "dead-letter"],
)
def test_only_a_dead_letter_carries_the_error(
    decision: Decision, error: Exception, has_error_headers: bool
) -> None:
    """Both keep the sender and the hub's attempt count; a retry drops an earlier failure's error
    headers, so a later broker dead-lettering is not reported with a stale reason."""
    earlier = dict.fromkeys(ERROR_HEADERS, "stale")
    out = _redirect(_received(**earlier), decision, error, NOW, None, 1024)
    headers = dict(out.headers)
    assert {k: headers[k] for k in SENDER} == SENDER
    assert ("x-hub-error-reason" in headers) is has_error_headers
    assert "stale" not in headers.values()


def test_a_senders_other_headers_stay_behind() -> None:
    """Only the hub's own and a court's short headers travel with the hub's publish."""
    out = _redirect(
        _received(**{"x-pad": "p" * 10, "x-court-key-id": "k", "x-court-signature": "s" * 2000}),
        Decision("dead_letter", None, "too_large"),
        ContractError("big", reason="too_large"),
        NOW,
        None,
        1024,
    )
    headers = dict(out.headers)
    assert "x-pad" not in headers
    assert headers["x-court-key-id"] == "k"
    assert "x-court-signature" not in headers  # longer than any real signature
