"""The audit chain, pure: each entry's hash covers the previous hash and the entry's canonical form.

Editing, inserting or deleting any row breaks the chain from that row on; `verify_chain` names the
first row that does not verify. Entries carry identifiers and outcomes only, never personal data or
bodies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "GENESIS",
    "AuditEntry",
    "ChainBreak",
    "ChainVerifier",
    "SealedEntry",
    "canonical",
    "seal",
    "verify_chain",
]

GENESIS = bytes(32)


@dataclass(frozen=True)
class AuditEntry:
    """Something that happened: who did what to which subject, and JSON-safe details."""

    at: datetime
    actor: str
    action: str
    subject: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SealedEntry:
    """An entry with its place in the chain."""

    seq: int
    entry: AuditEntry
    prev_hash: bytes
    hash: bytes


@dataclass(frozen=True)
class ChainBreak:
    """Where the chain stops verifying, and why."""

    seq: int
    problem: str


def canonical(seq: int, entry: AuditEntry) -> bytes:
    """The bytes that are hashed: a sorted, compact JSON of the row (timestamps in UTC)."""
    doc = {
        "seq": seq,
        "at": entry.at.astimezone(UTC).isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "detail": entry.detail,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _hash(prev: bytes, seq: int, entry: AuditEntry) -> bytes:
    return hashlib.sha256(prev + canonical(seq, entry)).digest()


def seal(last_seq: int, last_hash: bytes, entries: Iterable[AuditEntry]) -> list[SealedEntry]:
    """Chain `entries` after the row (`last_seq`, `last_hash`)."""
    out: list[SealedEntry] = []
    prev, seq = last_hash, last_seq
    for e in entries:
        seq += 1
        h = _hash(prev, seq, e)
        out.append(SealedEntry(seq, e, prev, h))
        prev = h
    return out


class ChainVerifier:
    """Checks rows one at a time, in `seq` order, in constant memory."""

    def __init__(
        self,
        start_seq: int = 0,
        start_hash: bytes = GENESIS,
        kept: tuple[int, bytes] | None = None,
    ) -> None:
        """`kept`: a head (seq, hash) printed by an earlier verification and kept outside the
        database; the chain must still hold that row, unchanged."""
        self._prev, self._expected = start_hash, start_seq + 1
        self._kept = kept
        # A kept head at or before the start can only be the start itself.
        self._kept_break = (
            ChainBreak(kept[0], "the head kept elsewhere is not in the chain")
            if kept is not None and kept[0] <= start_seq and kept != (start_seq, start_hash)
            else None
        )

    def feed(self, r: SealedEntry) -> ChainBreak | None:
        """Check the next row; return the break it shows, or None."""
        if r.seq != self._expected:
            return ChainBreak(
                self._expected, f"row {self._expected} is missing (next row is {r.seq})"
            )
        if r.prev_hash != self._prev:
            return ChainBreak(r.seq, "link to the previous row does not match")
        if _hash(self._prev, r.seq, r.entry) != r.hash:
            return ChainBreak(r.seq, "row content does not match its hash")
        if self._kept is not None and r.seq == self._kept[0] and r.hash != self._kept[1]:
            return ChainBreak(r.seq, "row differs from the head kept elsewhere")
        self._prev, self._expected = r.hash, self._expected + 1
        return None

    def ends_at(self, seq: int, hash_: bytes) -> ChainBreak | None:
        """Once every row is fed: the break, if the chain does not end at the head (`seq`,
        `hash_`) its writers recorded, or lacks the head kept elsewhere. Rows cut off the end show
        here; if the head row was rewritten too, only against a head kept elsewhere."""
        if self._kept_break is not None:
            return self._kept_break
        last = self._expected - 1
        end = seq if self._kept is None else max(seq, self._kept[0])
        if last < end:
            whose = "the head is" if end == seq else "a head kept elsewhere is"
            return ChainBreak(last + 1, f"rows {last + 1} to {end} are missing ({whose} {end})")
        if last > seq:
            return ChainBreak(seq + 1, f"rows after the head ({seq}) were added outside the chain")
        if self._prev != hash_:
            return ChainBreak(seq, "the last row does not match the chain's head")
        return None


def verify_chain(rows: Iterable[SealedEntry]) -> ChainBreak | None:
    """Walk rows in `seq` order from the genesis; return the first break or None."""
    v = ChainVerifier()
    for r in rows:
        if (broken := v.feed(r)) is not None:
            return broken
    return None
