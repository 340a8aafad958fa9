"""Which acks the intake sends for a loop turn's settlements: one `multiple` ack for what lies
below the lowest tag still being handled, one ack each for the rest."""

from __future__ import annotations

import pytest

from hub.intake import settlement_frames


@pytest.mark.parametrize(
    ("open_tags", "acks", "multiple", "single"),
    [
        ({1, 2, 3}, [1, 2, 3], 3, []),  # all done: one frame
        ({1, 2, 3}, [3, 1, 2], 3, []),  # in any order
        ({1, 2, 3, 4}, [1, 2], 2, []),  # 3 and 4 still handled: not covered
        ({1, 2, 3, 4}, [1, 2, 4], 2, [4]),  # 3 still handled: 4 alone
        ({1, 2, 3, 4}, [3, 4], None, [3, 4]),  # 1 still handled: nothing multiple
        ({5, 9, 12}, [9, 12], None, [9, 12]),  # gaps (settled earlier) do not matter
        ({5, 9, 12}, [5, 12], 5, [12]),
        ({7}, [7], 7, []),
        ({7, 8}, [], None, []),
    ],
)
def test_settlement_frames(
    open_tags: set[int], acks: list[int], multiple: int | None, single: list[int]
) -> None:
    """A multiple ack never covers a tag that is still being handled."""
    got_multiple, got_single = settlement_frames(open_tags, acks)
    assert (got_multiple, got_single) == (multiple, single)
    still_open = open_tags - set(acks)
    if got_multiple is not None:
        assert all(t > got_multiple for t in still_open)
