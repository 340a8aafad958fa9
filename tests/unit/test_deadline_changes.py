"""A batch's deadline effects become one change per deadline (the store writes them in one
statement, where two changes to one row would lose one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.rows import DeadlineChange, DeadlineRow, deadline_changes

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
T1, T2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)


def _open(subject: str, at: datetime = T0) -> DeadlineRow:
    return DeadlineRow(subject, "receipt", at, at + timedelta(hours=1))


def _change(subject: str, at: datetime | None, *alerted: int) -> DeadlineChange:
    return DeadlineChange(subject, "receipt", at, alerted)


@pytest.mark.parametrize(
    ("opened", "satisfied", "alerted", "inserts", "updates"),
    [
        ([], [], [], [], []),
        ([_open("a")], [], [], [(_open("a"), _change("a", None))], []),
        # the first opening wins: an open deadline keeps its start
        ([_open("a"), _open("a", T1)], [], [], [(_open("a"), _change("a", None))], []),
        # opened and satisfied in one batch: the insert carries it (the row may be new) and so
        # does an update (the row may exist, the insert then doing nothing)
        (
            [_open("a")],
            [("a", "receipt", T1)],
            [],
            [(_open("a"), _change("a", T1))],
            [_change("a", T1)],
        ),
        # the first satisfaction wins; alerts are gathered, sorted, once each
        (
            [],
            [("b", "receipt", T1), ("b", "receipt", T2)],
            [("b", "receipt", 90), ("b", "receipt", 50), ("b", "receipt", 90)],
            [],
            [_change("b", T1, 50, 90)],
        ),
        # alerts alone, on two deadlines, come out in key order
        (
            [],
            [],
            [("c", "receipt", 50), ("b", "receipt", 100)],
            [],
            [_change("b", None, 100), _change("c", None, 50)],
        ),
    ],
)
def test_one_change_per_deadline(
    opened: list[DeadlineRow],
    satisfied: list[tuple[str, str, datetime]],
    alerted: list[tuple[str, str, int]],
    inserts: list[tuple[DeadlineRow, DeadlineChange]],
    updates: list[DeadlineChange],
) -> None:
    assert deadline_changes(opened, satisfied, alerted) == (inserts, updates)
