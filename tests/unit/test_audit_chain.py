"""The audit chain detects an edited, inserted or deleted row."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.audit import GENESIS, AuditEntry, ChainVerifier, SealedEntry, seal, verify_chain

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _chain(n: int = 5) -> list[SealedEntry]:
    entries = [
        AuditEntry(T0 + timedelta(seconds=i), "hub", "message.received", f"s{i}", {"i": i})
        for i in range(n)
    ]
    return seal(0, GENESIS, entries)


def test_an_untouched_chain_verifies() -> None:
    """A freshly sealed chain has no break."""
    assert verify_chain(_chain()) is None


def test_an_edited_row_is_caught() -> None:
    """Changing a row's detail breaks its hash."""
    rows = _chain()
    rows[2] = dataclasses.replace(
        rows[2], entry=dataclasses.replace(rows[2].entry, detail={"i": 99})
    )
    broken = verify_chain(rows)
    assert broken is not None
    assert broken.seq == 3
    assert "content" in broken.problem


def test_a_deleted_row_is_caught() -> None:
    """A gap in the sequence is named."""
    rows = _chain()
    del rows[1]
    broken = verify_chain(rows)
    assert broken is not None
    assert broken.seq == 2
    assert "missing" in broken.problem


def test_a_rehashed_row_still_breaks_the_next_link() -> None:
    """Editing a row and recomputing its own hash is caught at the next row's link."""
    rows = _chain()
    edited = dataclasses.replace(rows[1].entry, actor="mallory")
    resealed = seal(1, rows[0].hash, [edited])[0]
    rows[1] = resealed
    broken = verify_chain(rows)
    assert broken is not None
    assert broken.seq == 3
    assert "link" in broken.problem


def test_timestamps_hash_the_same_in_any_zone() -> None:
    """The canonical form uses UTC, so a row read back in another zone verifies."""
    rows = _chain(1)
    other = rows[0].entry.at.astimezone(datetime.now(UTC).astimezone().tzinfo)
    moved = dataclasses.replace(rows[0], entry=dataclasses.replace(rows[0].entry, at=other))
    assert verify_chain([moved]) is None


def _problem(fed: int, head: tuple[int, str], kept: tuple[int, str] | None = None) -> str | None:
    """Feed the first `fed` rows of a five-row chain, then end at `head`: the problem found.

    Hashes by name: the last row's, the third's, the fourth's, the last row fed, the genesis.
    """
    rows = _chain(5)
    named = {"last": rows[-1].hash, "third": rows[2].hash, "fourth": rows[3].hash}
    named |= {"fed": rows[fed - 1].hash if fed else GENESIS, "genesis": GENESIS}
    checker = ChainVerifier(kept=None if kept is None else (kept[0], named[kept[1]]))
    for row in rows[:fed]:
        if (broken := checker.feed(row)) is not None:
            return broken.problem
    broken = checker.ends_at(head[0], named[head[1]])
    return broken.problem if broken else None


@pytest.mark.parametrize(
    ("fed", "head", "problem"),
    [
        (5, (5, "last"), None),
        (0, (0, "genesis"), None),
        (3, (5, "last"), "rows 4 to 5 are missing (the head is 5)"),
        (0, (5, "last"), "rows 1 to 5 are missing (the head is 5)"),
        (5, (3, "third"), "rows after the head (3) were added outside the chain"),
        (5, (5, "third"), "the last row does not match the chain's head"),
    ],
)
def test_the_chain_must_end_at_its_head(
    fed: int, head: tuple[int, str], problem: str | None
) -> None:
    """Rows cut off the end (or added after it) show against the head the writers recorded."""
    assert _problem(fed, head) == problem


@pytest.mark.parametrize(
    ("fed", "kept", "problem"),
    [
        (5, (3, "third"), None),
        (5, (5, "last"), None),
        # cut to 3 rows, and the head row rewritten to match: only the kept head shows it
        (3, (5, "last"), "rows 4 to 5 are missing (a head kept elsewhere is 5)"),
        (5, (3, "last"), "row differs from the head kept elsewhere"),
        (5, (0, "genesis"), None),  # kept while the chain was empty
        (5, (0, "last"), "the head kept elsewhere is not in the chain"),
    ],
)
def test_a_head_kept_elsewhere_must_still_be_in_the_chain(
    fed: int, kept: tuple[int, str], problem: str | None
) -> None:
    # the head row says where the chain ends now: the last row fed
    assert _problem(fed, (fed, "fed"), kept) == problem


def test_missing_rows_are_counted_to_the_further_head() -> None:
    """Rows 4 and 5 cut off, the head row still at 5, a head kept at 4: all that is missing."""
    assert _problem(3, (5, "last"), (4, "fourth")) == "rows 4 to 5 are missing (the head is 5)"
