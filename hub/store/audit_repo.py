"""SQL for the audit chain: extend it under a lock on its head row, and verify the whole chain.

`audit_head` holds the chain's last (seq, hash). A writer locks it (SELECT ... FOR UPDATE, which
also reads it: under READ COMMITTED a writer that waited gets the head its predecessor committed),
seals its entries after it, and writes the entries and the new head in its own statement, so that
appending costs one round trip more than the writes it goes with.

The engine locks the head between a batch's read and its writes. A batch holding the head can then
wait for a row another batch locked in its read while that one waits for the head: only for a row
that was created between the two reads (three batches on one new order or warrant within
milliseconds). PostgreSQL breaks such a deadlock by failing one transaction, and the engine retries
it (`DeadlockDetectedError` is transient).
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.audit import AuditEntry, ChainBreak, ChainVerifier, SealedEntry, seal
from hub.store.pool import Conn
from hub.store.statement import Statement

__all__ = ["COLUMNS", "add_entries", "append", "head", "verify"]

COLUMNS = {  # audit_log's, as written here
    "seq": "bigint",
    "at": "timestamptz",
    "actor": "text",
    "action": "text",
    "subject": "text",
    "detail": "jsonb",
    "prev_hash": "bytea",
    "hash": "bytea",
}


async def add_entries(conn: Conn, stmt: Statement, entries: Sequence[AuditEntry]) -> None:
    """Lock the chain's head, seal `entries` after it and add their rows and the new head to
    `stmt`; the head stays locked until the caller's transaction ends."""
    if not entries:
        return
    head = await conn.fetchrow("SELECT seq, hash FROM audit_head FOR UPDATE")
    if head is None:
        raise RuntimeError("audit_head has no row: migration 0005 not applied")
    sealed = seal(head["seq"], bytes(head["hash"]), entries)
    rows = [
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
    ]
    stmt.insert("audit_log", COLUMNS, rows)
    last = sealed[-1]
    stmt.add(
        f"UPDATE audit_head SET seq = {stmt.param(last.seq, 'bigint')},"
        f" hash = {stmt.param(last.hash, 'bytea')}"
    )


async def append(conn: Conn, entries: Sequence[AuditEntry]) -> None:
    """Extend the chain with `entries`; must run inside the caller's transaction."""
    stmt = Statement()
    await add_entries(conn, stmt, entries)
    await stmt.execute(conn)


async def head(conn: Conn) -> tuple[int, bytes]:
    """The chain's last (seq, hash) as its writers recorded it (no lock)."""
    row = await conn.fetchrow("SELECT seq, hash FROM audit_head")
    if row is None:
        raise RuntimeError("audit_head has no row: migration 0005 not applied")
    return row["seq"], bytes(row["hash"])


async def verify(conn: Conn) -> tuple[int, ChainBreak | None]:
    """Verify the whole chain, streaming, and that it ends at its head; return rows read and the
    first break."""
    checker, count = ChainVerifier(), 0
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        head = await conn.fetchrow("SELECT seq, hash FROM audit_head")
        q = (
            "SELECT seq, at, actor, action, subject, detail, prev_hash, hash"
            " FROM audit_log ORDER BY seq"
        )
        async for r in conn.cursor(q, prefetch=2000):
            count += 1
            entry = AuditEntry(r["at"], r["actor"], r["action"], r["subject"], r["detail"])
            row = SealedEntry(r["seq"], entry, bytes(r["prev_hash"]), bytes(r["hash"]))
            if (broken := checker.feed(row)) is not None:
                return count, broken
        if head is None:
            return count, ChainBreak(0, "the chain's head row is missing")
        return count, checker.ends_at(head["seq"], bytes(head["hash"]))
