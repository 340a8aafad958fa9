"""A circuit breaker per external system, pure: when to stop calling it, and when to try again.

Closed: calls go through; `threshold` transient failures in a row open it. Open: no calls; new
deliveries are deferred (kept in order in PostgreSQL) and, every `probe_every`, the oldest deferred
delivery is tried as the probe. A probe that succeeds closes the circuit; the deferred deliveries
are then made in the order they arrived, and new ones keep being deferred until that backlog is
empty, so the external system sees them in order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

__all__ = ["Circuit", "CircuitPolicy"]

State = Literal["closed", "open"]


@dataclass(frozen=True)
class CircuitPolicy:
    """How many failures open the circuit, and how often an open circuit is probed."""

    threshold: int = 3
    probe_every: timedelta = timedelta(seconds=5)


@dataclass(frozen=True)
class Circuit:
    """The breaker's state for one external system."""

    state: State = "closed"
    failures: int = 0
    down_since: datetime | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    last_probe: datetime | None = None

    def failed(self, now: datetime, policy: CircuitPolicy) -> Circuit:
        """After a transient failure: count it, and open once the threshold is reached."""
        failures = self.failures + 1
        opened = failures >= policy.threshold
        return replace(
            self,
            failures=failures,
            state="open" if opened else self.state,
            down_since=self.down_since or now,
            last_failure=now,
        )

    def succeeded(self, now: datetime) -> Circuit:
        """After a success: closed, no failures, not down."""
        return replace(self, state="closed", failures=0, down_since=None, last_success=now)

    def probe_due(self, now: datetime, policy: CircuitPolicy) -> bool:
        """Whether an open circuit should try its probe now."""
        if self.state != "open":
            return False
        return self.last_probe is None or now - self.last_probe >= policy.probe_every

    def probed(self, now: datetime) -> Circuit:
        """Record that a probe was attempted at `now`."""
        return replace(self, last_probe=now)
