"""The audit chain, pure: each entry's hash covers the previous hash and the entry's canonical form.

Editing, inserting or deleting any row breaks the chain from that row on; `verify_chain` names the
first row that does not verify. The chain is unkeyed, so whoever can write every row can also
rewrite it whole (rehash after a deletion); `ChainVerifier` therefore also takes rows known from
outside the database (a head kept elsewhere, heads signed as checkpoints: `hub.domain.checkpoint`)
that the chain must still hold. Entries carry identifiers and outcomes only, never personal data or
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


# How a row known from outside the database is named in a break: (the..., a...).
_KEPT = ("the head kept elsewhere", "a head kept elsewhere")
_SIGNED = ("the signed checkpoint", "a signed checkpoint")


class ChainVerifier:
    """Checks rows one at a time, in `seq` order, in constant memory (plus the known rows)."""

    def __init__(
        self,
        start_seq: int = 0,
        start_hash: bytes = GENESIS,
        kept: tuple[int, bytes] | None = None,
        checkpoints: Iterable[tuple[int, bytes]] = (),
    ) -> None:
        """`kept`: a head (seq, hash) printed by an earlier verification and kept outside the
        database; `checkpoints`: heads (seq, hash) whose signatures the caller verified
        (`hub.domain.checkpoint`). The chain must still hold each of those rows, unchanged."""
        self._prev, self._expected = start_hash, start_seq + 1
        known = [(s, h, _SIGNED) for s, h in checkpoints]
        if kept is not None:
            known.append((kept[0], kept[1], _KEPT))
        self._known: dict[int, list[tuple[bytes, tuple[str, str]]]] = {}
        for s, h, names in known:
            self._known.setdefault(s, []).append((h, names))
        # The furthest row known from outside, and how it is named.
        self._furthest = max(((s, names) for s, _h, names in known), default=None)
        # A known row at or before the start can only be the start itself.
        self._early_break = next(
            (
                ChainBreak(s, f"{names[0]} is not in the chain")
                for s, h, names in sorted(known, key=lambda k: k[0])
                if s <= start_seq and (s, h) != (start_seq, start_hash)
            ),
            None,
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
        for hash_, names in self._known.get(r.seq, ()):
            if r.hash != hash_:
                return ChainBreak(r.seq, f"row differs from {names[0]}")
        self._prev, self._expected = r.hash, self._expected + 1
        return None

    def ends_at(self, seq: int, hash_: bytes) -> ChainBreak | None:
        """Once every row is fed: the break, if the chain does not end at the head (`seq`,
        `hash_`) its writers recorded, or lacks a row known from outside (a head kept elsewhere, a
        signed checkpoint). Rows cut off the end show here; if the head row was rewritten too, only
        against a row known from outside."""
        if self._early_break is not None:
            return self._early_break
        last = self._expected - 1
        end, whose = seq, "the head is"
        if self._furthest is not None and self._furthest[0] > seq:
            end, whose = self._furthest[0], f"{self._furthest[1][1]} is"
        if last < end:
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
