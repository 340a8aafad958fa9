"""The retry policy decides from the error and the attempt count, without sleeping."""

from __future__ import annotations

import asyncpg
import pytest

from contracts import ContractError, IllegalTransition
from hub.domain.retry import RetryPolicy, attempts_from
from hub.errors import (
    PublishFailed,
    StaleMessage,
    StoreUnavailable,
    UpstreamRejected,
    UpstreamUnavailable,
)
from hub.pipeline.engine import as_hub_error

POLICY = RetryPolicy(ladder_s=(5, 30, 120))


@pytest.mark.parametrize(
    ("error", "attempts", "verdict", "delay", "reason"),
    [
        (UpstreamUnavailable("bnmp"), 0, "retry", 5, "upstream_unavailable"),
        (UpstreamUnavailable("bnmp"), 1, "retry", 30, "upstream_unavailable"),
        (StoreUnavailable("down"), 2, "retry", 120, "store_unavailable"),
        (
            UpstreamUnavailable("bnmp"),
            3,
            "dead_letter",
            None,
            "retries_exhausted:upstream_unavailable",
        ),
        (UpstreamRejected("no"), 0, "dead_letter", None, "upstream_rejected"),
        (StaleMessage("revoked"), 0, "dead_letter", None, "stale"),
        (ContractError("bad cnj", reason="invalid_cnj"), 0, "dead_letter", None, "invalid_cnj"),
        (
            IllegalTransition("no", reason="illegal_transition"),
            0,
            "dead_letter",
            None,
            "illegal_transition",
        ),
        (KeyError("bug"), 0, "dead_letter", None, "unexpected:KeyError"),
        (PublishFailed("nack"), 0, "requeue", None, "publish_failed"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_decisions(
    error: BaseException, attempts: int, verdict: str, delay: float | None, reason: str
) -> None:
    """Transient errors walk the ladder, then dead-letter; permanent ones dead-letter at once."""
    d = POLICY.decide(error, attempts)
    assert (d.verdict, d.delay_s, d.reason) == (verdict, delay, reason)


@pytest.mark.parametrize(("attempt", "delay"), [(0, None), (1, 5), (2, 30), (3, 120), (4, None)])
def test_delay_for(attempt: int, delay: float | None) -> None:
    """Rung n waits the n-th delay; outside the ladder there is no delay."""
    assert POLICY.delay_for(attempt) == delay
    assert POLICY.max_attempts == 3


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.InterfaceError("pool is closing"),
        asyncpg.exceptions.InternalClientError("cannot switch to state 15"),
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        # a failover's gap, with a multi-host DSN: every host answers, none takes writes yet
        asyncpg.exceptions.TargetServerAttributeNotMatched(
            "None of the hosts match the target attribute requirement <SessionAttribute.read_write>"
        ),
        TimeoutError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_database_and_network_errors_retry_wherever_they_are_met(error: BaseException) -> None:
    """The settle point translates first: a PostgreSQL restart met outside a batch (an inbox lookup
    before a delivery, say) walks the ladder instead of parking as `unexpected:<error>`."""
    translated = as_hub_error(error)
    assert translated.__cause__ is error
    d = POLICY.decide(translated, 0)
    assert (d.verdict, d.reason) == ("retry", "store_unavailable")


@pytest.mark.parametrize("error", [KeyError("bug"), ContractError("bad", reason="invalid_cnj")])
def test_other_errors_are_not_translated(error: BaseException) -> None:
    assert as_hub_error(error) is error


@pytest.mark.parametrize(
    ("value", "count"),
    [(None, 0), (2, 2), ("3", 3), (-4, 0), ("many", 0), (b"3", 0), (3_000_000_000, 2**31 - 1)],
)
def test_attempts_from_a_sender_header(value: object, count: int) -> None:
    """Whatever a sender put in `x-hub-attempt`, the count fits the headers and the store."""
    assert attempts_from(value) == count
