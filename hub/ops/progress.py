"""Staged bulk replay as a value (pure): one canary first, then the rest, stopping on failures.

The canary must be consumed without failing again before anything else is replayed; after it, the
replay stops once `max_failures` replayed messages in a row failed again. Refusals (the business
state said no) are counted but are not delivery failures.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["BulkProgress", "ItemOutcome", "Phase"]

ItemOutcome = Literal["ok", "failed", "refused", "unconfirmed"]
Phase = Literal["canary", "running", "done", "stopped"]


@dataclass(frozen=True)
class BulkProgress:
    """Where a bulk replay stands: canary first, then the rest until done or stopped."""

    max_failures: int
    phase: Phase = "canary"
    ok: int = 0
    failed: int = 0
    refused: int = 0
    unconfirmed: int = 0
    in_a_row: int = 0
    stop_reason: str | None = None

    @property
    def finished(self) -> bool:
        """Whether nothing more will be replayed."""
        return self.phase in ("done", "stopped")

    def record(self, outcome: ItemOutcome, detail: str = "") -> BulkProgress:
        """The progress after one more item's outcome."""
        if self.finished:
            return self
        if outcome == "refused":  # the business state said no: not a delivery failure
            return replace(self, refused=self.refused + 1)
        if self.phase == "canary":
            return self._canary(outcome, detail)
        if outcome == "ok":
            return replace(self, ok=self.ok + 1, in_a_row=0)
        if outcome == "unconfirmed":
            return replace(self, unconfirmed=self.unconfirmed + 1)
        in_a_row = self.in_a_row + 1
        if in_a_row < self.max_failures:
            return replace(self, failed=self.failed + 1, in_a_row=in_a_row)
        why = f"{in_a_row} failures in a row (last: {detail or 'failed again'})"
        return replace(
            self, failed=self.failed + 1, in_a_row=in_a_row, phase="stopped", stop_reason=why
        )

    def _canary(self, outcome: ItemOutcome, detail: str) -> BulkProgress:
        if outcome == "ok":
            return replace(self, ok=1, phase="running")
        counts = {"failed": self.failed + (outcome == "failed")}
        counts["unconfirmed"] = self.unconfirmed + (outcome == "unconfirmed")
        why = f"the canary {detail or outcome}: nothing else was replayed"
        return replace(self, **counts, in_a_row=1, phase="stopped", stop_reason=why)

    def stop(self, reason: str) -> BulkProgress:
        """Stopped from outside (cancelled), keeping the counts."""
        return replace(self, phase="stopped", stop_reason=reason)

    def finish(self) -> BulkProgress:
        """Every item was tried: done, unless it stopped before."""
        return self if self.phase == "stopped" else replace(self, phase="done")
