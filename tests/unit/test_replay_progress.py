"""A bulk replay is staged: one canary first, then the rest, stopping on failures in a row."""

from __future__ import annotations

import pytest

from hub.ops.bulk import settle_outcome
from hub.ops.progress import BulkProgress, ItemOutcome


def run(outcomes: list[ItemOutcome], max_failures: int = 3) -> BulkProgress:
    """The progress after these outcomes, in order."""
    progress = BulkProgress(max_failures)
    for outcome in outcomes:
        progress = progress.record(outcome, "detail")
    return progress


def test_a_consumed_canary_lets_the_rest_run() -> None:
    """After the canary is consumed the job runs the rest."""
    assert run(["ok"]).phase == "running"


@pytest.mark.parametrize("outcome", ["failed", "unconfirmed"])
def test_a_canary_that_fails_or_hangs_stops_everything(outcome: ItemOutcome) -> None:
    """Nothing else is replayed when the canary fails again or is not consumed in time."""
    progress = run([outcome, "ok", "ok"])
    assert progress.phase == "stopped"
    assert progress.ok == 0
    assert progress.stop_reason is not None
    assert "canary" in progress.stop_reason


def test_refusals_do_not_count_as_canary_or_failure() -> None:
    """Refused items are skipped over: the next published item is the canary."""
    progress = run(["refused", "refused", "ok", "refused", "failed", "refused", "failed"])
    assert (progress.phase, progress.refused, progress.failed) == ("running", 4, 2)


def test_failures_in_a_row_stop_the_job() -> None:
    """The job stops at `max_failures` failures in a row, and says so."""
    progress = run(["ok", "failed", "failed", "failed", "ok"])
    assert progress.phase == "stopped"
    assert progress.ok == 1
    assert progress.failed == 3
    assert progress.stop_reason is not None
    assert "3 failures in a row" in progress.stop_reason


def test_a_success_resets_the_count_of_failures_in_a_row() -> None:
    """Scattered failures do not stop the job."""
    progress = run(["ok", "failed", "failed", "ok", "failed", "failed", "ok"]).finish()
    assert (progress.phase, progress.ok, progress.failed) == ("done", 3, 4)


def test_unconfirmed_items_are_counted_apart() -> None:
    """An item not settled in time is neither a success nor a failure."""
    progress = run(["ok", "unconfirmed", "unconfirmed", "unconfirmed"]).finish()
    assert (progress.phase, progress.unconfirmed, progress.in_a_row) == ("done", 3, 0)


def test_a_finished_job_ignores_late_outcomes() -> None:
    """Once stopped, nothing changes the progress."""
    stopped = run(["failed"])
    assert stopped.record("ok") == stopped
    assert stopped.finish() == stopped


def test_a_cancelled_job_keeps_its_counts() -> None:
    """Cancelling stops the job with the counts so far."""
    progress = run(["ok", "ok"]).stop("cancelled")
    assert (progress.phase, progress.ok, progress.stop_reason) == ("stopped", 2, "cancelled")


@pytest.mark.parametrize(
    ("status", "failures", "consumed", "hub_consumes", "expected"),
    [
        ("replayed", 1, False, True, None),
        ("replayed", 1, True, True, "ok"),
        ("parked", 2, False, True, "failed"),
        ("parked", 2, True, True, "failed"),
        ("parked", 1, False, True, None),
        ("replayed", 1, False, False, "ok"),
    ],
)
def test_settle_outcome(
    status: str, failures: int, consumed: bool, hub_consumes: bool, expected: str | None
) -> None:
    """A replayed letter failed if it is parked again with one more failure, ok once consumed."""
    assert settle_outcome(status, failures, consumed, 1, hub_consumes) == expected
