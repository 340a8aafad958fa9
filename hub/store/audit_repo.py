"""SQL for the audit chain: extend it under a lock on its head row, and verify the whole chain.

`audit_head` holds the chain's last (seq, hash). A writer locks it (SELECT ... FOR UPDATE, which
also reads it: under READ COMMITTED a writer that waited gets the head its predecessor committed),
seals its entries after it, and writes the entries and the new head in its own statement, so that
appending costs one round trip more than the writes it goes with.

The engine locks the head between a batch's read and its writes. A batch holding the head can then
wait for a row another batch locked in its read while that one waits for the head: only for a row
that was created between the two reads (three batches on one new order or warrant within
milliseconds), or for a row an operator's replay holds while it waits for the head. PostgreSQL
breaks such a deadlock by failing one transaction, which is retried (`DeadlockDetectedError` is
transient).

A hub of an earlier version (migration 0004 and before) appends under an advisory lock and does
not move the head: upgrade with every hub process stopped (`deploy/CLUSTER.md`). Should one write
anyway, the next append finds the chain's last row ahead of the head and goes on from that row.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from hub.domain.audit import AuditEntry, ChainBreak, ChainVerifier, SealedEntry, seal
from hub.store.pool import Conn
from hub.store.statement import Statement

__all__ = ["COLUMNS", "add_entries", "append", "verify", "verify_with_head"]

log = structlog.get_logger("hub.audit")

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
    head = await conn.fetchrow(
        "SELECT h.seq, h.hash, l.seq AS log_seq, l.hash AS log_hash FROM audit_head h"
        " LEFT JOIN LATERAL (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) l"
        " ON true FOR UPDATE OF h"
    )
    if head is None:
        raise RuntimeError("audit_head has no row: migration 0005 not applied")
    seq, last_hash = head["seq"], bytes(head["hash"])
    # After a wait for the lock the head is the one just committed, the last row maybe older
    # (the statement's snapshot): the row is only taken when it is ahead of the head.
    if head["log_seq"] is not None and head["log_seq"] > seq:
        log.warning("audit.head_behind", head=seq, chain=head["log_seq"])
        seq, last_hash = head["log_seq"], bytes(head["log_hash"])
    sealed = seal(seq, last_hash, entries)
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


async def verify(conn: Conn) -> tuple[int, ChainBreak | None]:
    """Verify the whole chain, streaming, and that it ends at its head; return rows read and the
    first break."""
    count, broken, _ = await verify_with_head(conn)
    return count, broken


async def verify_with_head(
    conn: Conn, kept: tuple[int, bytes] | None = None
) -> tuple[int, ChainBreak | None, tuple[int, bytes] | None]:
    """`verify`, and the head it verified against (seq, hash), read in the same snapshot; with
    `kept`, a head printed by an earlier verification, also check that the chain still holds it."""
    checker, count = ChainVerifier(kept=kept), 0
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        row = await conn.fetchrow("SELECT seq, hash FROM audit_head")
        head = None if row is None else (int(row["seq"]), bytes(row["hash"]))
        q = (
            "SELECT seq, at, actor, action, subject, detail, prev_hash, hash"
            " FROM audit_log ORDER BY seq"
        )
        async for r in conn.cursor(q, prefetch=2000):
            count += 1
            entry = AuditEntry(r["at"], r["actor"], r["action"], r["subject"], r["detail"])
            sealed = SealedEntry(r["seq"], entry, bytes(r["prev_hash"]), bytes(r["hash"]))
            if (broken := checker.feed(sealed)) is not None:
                return count, broken, head
        if head is None:
            return count, ChainBreak(0, "the chain's head row is missing"), head
        return count, checker.ends_at(*head), head
