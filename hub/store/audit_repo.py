"""SQL for the audit chain: append a batch under one advisory lock, and verify the whole chain."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

from hub.audit import GENESIS, AuditEntry, ChainBreak, ChainVerifier, SealedEntry, seal
from hub.store.pool import Conn

__all__ = ["append", "verify"]

_AUDIT_LOCK = 0x4855_4241  # "HUBA": one writer at a time extends the chain


async def append(conn: Conn, entries: Sequence[AuditEntry]) -> None:
    """Extend the chain with `entries`; must run inside the caller's transaction."""
    if not entries:
        return
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _AUDIT_LOCK)
    last = await conn.fetchrow("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    last_seq, last_hash = (last["seq"], bytes(last["hash"])) if last else (0, GENESIS)
    sealed = seal(last_seq, last_hash, entries)
    await conn.copy_records_to_table(
        "audit_log",
        records=[
            (
                s.seq,
                s.entry.at,
                s.entry.actor,
                s.entry.action,
                s.entry.subject,
                dict(s.entry.detail),
                s.prev_hash,
                s.hash,
            )
            for s in sealed
        ],
        columns=["seq", "at", "actor", "action", "subject", "detail", "prev_hash", "hash"],
    )


async def _rows(conn: Conn) -> AsyncGenerator[SealedEntry, None]:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        q = (
            "SELECT seq, at, actor, action, subject, detail, prev_hash, hash"
            " FROM audit_log ORDER BY seq"
        )
        async for r in conn.cursor(q, prefetch=2000):
            entry = AuditEntry(r["at"], r["actor"], r["action"], r["subject"], r["detail"])
            yield SealedEntry(r["seq"], entry, bytes(r["prev_hash"]), bytes(r["hash"]))


async def verify(conn: Conn) -> tuple[int, ChainBreak | None]:
    """Verify the whole chain, streaming; return rows read and the first break."""
    checker, count = ChainVerifier(), 0
    async with aclosing(_rows(conn)) as rows:  # closes the read transaction on an early return
        async for row in rows:
            count += 1
            if (broken := checker.feed(row)) is not None:
                return count, broken
    return count, None
