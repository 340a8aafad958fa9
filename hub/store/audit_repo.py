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

Signed checkpoints of the head (`hub.domain.checkpoint`) are kept in `audit_checkpoints` for the ops
API; one hub process at a time signs (a transaction-scoped advisory lock), and only a head that
moved since the last checkpoint. Migration 0007 makes both tables append-only (a trigger) and
gives the writers' role INSERT but no UPDATE, DELETE or TRUNCATE on them.

A hub of an earlier version (migration 0004 and before) appends under an advisory lock and does
not move the head: upgrade with every hub process stopped (`deploy/CLUSTER.md`). Should one write
anyway, the next append finds the chain's last row ahead of the head and goes on from that row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog

from hub.domain.audit import AuditEntry, ChainBreak, ChainVerifier, SealedEntry, seal
from hub.domain.checkpoint import Checkpoint
from hub.store.pool import Conn
from hub.store.statement import Statement

__all__ = [
    "COLUMNS",
    "add_checkpoint",
    "add_entries",
    "append",
    "checkpoints",
    "last_checkpoint_seq",
    "lock_checkpointing",
    "read_head",
    "verify",
    "verify_with_head",
]

log = structlog.get_logger("hub.audit")

_CHECKPOINT_LOCK = 0x4855_4243  # "HUBC": one signer of checkpoints at a time

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
    conn: Conn,
    kept: tuple[int, bytes] | None = None,
    checkpoints: Iterable[tuple[int, bytes]] = (),
) -> tuple[int, ChainBreak | None, tuple[int, bytes] | None]:
    """`verify`, and the head it verified against (seq, hash), read in the same snapshot; with
    `kept`, a head printed by an earlier verification, and `checkpoints`, heads whose signatures
    the caller verified, also check that the chain still holds each of those rows unchanged."""
    checker, count = ChainVerifier(kept=kept, checkpoints=checkpoints), 0
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


# ---------------------------------------------------------------- signed checkpoints


async def read_head(conn: Conn) -> tuple[int, bytes] | None:
    """The chain's head (seq, hash) as its writers last committed it."""
    row = await conn.fetchrow("SELECT seq, hash FROM audit_head")
    return None if row is None else (int(row["seq"]), bytes(row["hash"]))


async def lock_checkpointing(conn: Conn) -> bool:
    """Take the right to sign a checkpoint until the transaction ends, unless another process
    holds it (then False: that one is signing)."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _CHECKPOINT_LOCK))


async def last_checkpoint_seq(conn: Conn) -> int:
    """The seq of the latest checkpoint kept here (0 if none)."""
    return int(await conn.fetchval("SELECT coalesce(max(seq), 0) FROM audit_checkpoints"))


async def add_checkpoint(conn: Conn, cp: Checkpoint) -> None:
    """Keep a signed checkpoint (a second one of the same head is ignored)."""
    await conn.execute(
        "INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING",
        cp.seq,
        cp.hash,
        cp.at,
        cp.key_id,
        cp.signature,
    )


async def checkpoints(
    conn: Conn, *, after_seq: int = 0, limit: int | None = None
) -> list[Checkpoint]:
    """The checkpoints kept here after `after_seq`, oldest first (at most `limit`)."""
    rows = await conn.fetch(
        "SELECT seq, hash, at, key_id, signature FROM audit_checkpoints"
        " WHERE seq > $1 ORDER BY seq LIMIT $2",
        after_seq,
        limit,
    )
    return [
        Checkpoint(int(r["seq"]), bytes(r["hash"]), r["at"], r["key_id"], bytes(r["signature"]))
        for r in rows
    ]
