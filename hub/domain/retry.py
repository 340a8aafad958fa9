"""Retry policy as a value: what to do with a failed message, from the error and the attempt.

Short waits happen in-process (tenacity, seconds); long ones go through the broker's TTL ladder so
that no consumer sleeps with a message in hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts import ContractError
from hub.errors import HubError, PublishFailed, TransientError

__all__ = ["ATTEMPT_HEADER", "Decision", "RetryPolicy", "attempts_from", "classify"]

ATTEMPT_HEADER = "x-hub-attempt"
_ATTEMPTS_MAX = 2**31 - 1  # what an AMQP signed int and PostgreSQL's `integer` hold


def attempts_from(value: object) -> int:
    """The retry count an `ATTEMPT_HEADER` value says, as a sender may have set it: a number
    bounded to what the headers and the dead-letter store hold; anything else counts as none."""
    if not isinstance(value, int | str):
        return 0
    try:
        count = int(value)
    except ValueError:
        return 0
    return min(max(0, count), _ATTEMPTS_MAX)


Verdict = Literal["retry", "dead_letter", "requeue"]


@dataclass(frozen=True)
class Decision:
    """What the engine does with a failed message: the verdict, the rung delay, and why."""

    verdict: Verdict
    delay_s: float | None
    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    """The delayed ladder: attempt n (1-based) waits ``ladder_s[n-1]``; then dead-letter."""

    ladder_s: tuple[float, ...] = (5, 30, 120, 600, 3600)

    @property
    def max_attempts(self) -> int:
        """How many delayed retries a message gets before it is dead-lettered."""
        return len(self.ladder_s)

    def delay_for(self, attempt: int) -> float | None:
        """The delay before retry number `attempt` (1-based), or None when the ladder is spent."""
        if 1 <= attempt <= len(self.ladder_s):
            return self.ladder_s[attempt - 1]
        return None

    def decide(self, error: BaseException, attempts_so_far: int) -> Decision:
        """Map an error and the number of delayed retries already made to a `Decision`."""
        kind = classify(error)
        if kind == "requeue":
            return Decision("requeue", None, getattr(error, "reason", type(error).__name__))
        reason = _reason(error)
        if kind == "dead_letter":
            return Decision("dead_letter", None, reason)
        delay = self.delay_for(attempts_so_far + 1)
        if delay is None:
            return Decision("dead_letter", None, f"retries_exhausted:{reason}")
        return Decision("retry", delay, reason)


def classify(error: BaseException) -> Verdict:
    """Transient errors retry; a failed hub publish requeues; the rest dead-letter."""
    if isinstance(error, PublishFailed):
        return "requeue"
    if isinstance(error, TransientError):
        return "retry"
    return "dead_letter"


def _reason(error: BaseException) -> str:
    if isinstance(error, ContractError | HubError):
        return error.reason
    return f"unexpected:{type(error).__name__}"
