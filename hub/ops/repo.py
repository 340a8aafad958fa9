"""SQL of the ops service for dead letters and replay jobs (asyncpg, plain SQL, no decisions)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from contracts import Envelope
from hub.domain.decide import keys_for
from hub.ops.replay import Known, OrderFacts, WarrantFacts
from hub.ops.search import DeadLetterFilter, where
from hub.store.pool import Conn

__all__ = [
    "LIST_COLUMNS",
    "add_job",
    "count_letters",
    "get_job",
    "get_letter",
    "group_letters",
    "job_items",
    "list_jobs",
    "list_letters",
    "load_known",
    "mark_refused",
    "mark_replayed",
    "select_ids",
    "set_item",
    "set_status",
    "settled",
    "skip_items",
    "update_job",
]

LIST_COLUMNS = (
    "id, message_id, connector, queue, kind, correlation_id, error_type, reason, error_message,"
    " attempts, failures, first_failed_at, last_failed_at, status, status_at, status_by,"
    " replayed_as, replays, refused_code, refused_at"
)


async def list_letters(
    conn: Conn, f: DeadLetterFilter, limit: int, before_id: int | None = None
) -> list[dict[str, Any]]:
    """The dead letters `f` selects, newest first, without bodies or traces."""
    clause, args = where(f)
    if before_id is not None:
        args.append(before_id)
        clause += f" AND id < ${len(args)}"
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT {LIST_COLUMNS} FROM dead_letters WHERE {clause} ORDER BY id DESC"
        f" LIMIT ${len(args)}",
        *args,
    )
    return [dict(r) for r in rows]


async def count_letters(conn: Conn, f: DeadLetterFilter) -> int:
    """How many dead letters `f` selects."""
    clause, args = where(f)
    return int(await conn.fetchval(f"SELECT count(*) FROM dead_letters WHERE {clause}", *args))


async def group_letters(conn: Conn, f: DeadLetterFilter) -> list[dict[str, Any]]:
    """Dead letters grouped by error type, reason, connector and kind, biggest group first."""
    clause, args = where(f)
    rows = await conn.fetch(
        "SELECT error_type, reason, connector, kind, count(*) AS count,"
        " sum(failures) AS failures, min(first_failed_at) AS first_failed_at,"
        " max(last_failed_at) AS last_failed_at, array_agg(DISTINCT queue) AS queues"
        f" FROM dead_letters WHERE {clause} GROUP BY error_type, reason, connector, kind"
        " ORDER BY count(*) DESC, max(last_failed_at) DESC LIMIT 200",
        *args,
    )
    return [dict(r) for r in rows]


async def select_ids(conn: Conn, f: DeadLetterFilter, limit: int) -> list[int]:
    """Ids of what `f` selects, oldest first (the order a bulk action takes them in)."""
    clause, args = where(f)
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT id FROM dead_letters WHERE {clause} ORDER BY id LIMIT ${len(args)}", *args
    )
    return [int(r["id"]) for r in rows]


async def get_letter(conn: Conn, letter_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    """One dead letter with everything (body, headers, trace); locked for update if asked."""
    row = await conn.fetchrow(
        f"SELECT {LIST_COLUMNS}, trace, body, headers FROM dead_letters WHERE id = $1"
        + (" FOR UPDATE" if lock else ""),
        letter_id,
    )
    return dict(row) if row is not None else None


async def load_known(conn: Conn, env: Envelope, *, lock: bool = False) -> Known:
    """The rows `env` touches (shared-locked if asked, so a transition waits for the replay)."""
    orders, warrants = keys_for(env)
    suffix = " FOR SHARE" if lock else ""
    o = await conn.fetch(
        "SELECT order_number, state, document, bnmp_id FROM release_orders"
        f" WHERE order_number = ANY($1::text[]) ORDER BY order_number{suffix}",
        sorted(orders),
    )
    w = await conn.fetch(
        "SELECT warrant_number, state, bnmp_id FROM warrants"
        f" WHERE warrant_number = ANY($1::text[]) ORDER BY warrant_number{suffix}",
        sorted(warrants),
    )
    d = await conn.fetch(
        "SELECT subject, kind FROM deadlines WHERE satisfied_at IS NULL AND subject = $1",
        env.correlation_id,
    )
    return Known(
        orders={r["order_number"]: OrderFacts(r["state"], r["document"], r["bnmp_id"]) for r in o},
        warrants={r["warrant_number"]: WarrantFacts(r["state"], r["bnmp_id"]) for r in w},
        open_deadlines=frozenset((r["subject"], r["kind"]) for r in d),
    )


async def mark_replayed(
    conn: Conn, letter_id: int, by: str, now: datetime, replayed_as: str
) -> None:
    """The dead letter was published again (as `replayed_as`)."""
    await conn.execute(
        "UPDATE dead_letters SET status = 'replayed', status_at = $2, status_by = $3,"
        " replayed_as = $4::uuid, replays = replays + 1, refused_code = NULL WHERE id = $1",
        letter_id,
        now,
        by,
        replayed_as,
    )


async def mark_refused(conn: Conn, letter_id: int, code: str, now: datetime) -> None:
    """A replay of the dead letter was refused (it stays as it was)."""
    await conn.execute(
        "UPDATE dead_letters SET refused_code = $2, refused_at = $3 WHERE id = $1",
        letter_id,
        code,
        now,
    )


async def set_status(conn: Conn, ids: Sequence[int], status: str, by: str, now: datetime) -> None:
    """Archive or restore dead letters."""
    await conn.execute(
        "UPDATE dead_letters SET status = $2, status_at = $3, status_by = $4"
        " WHERE id = ANY($1::bigint[])",
        list(ids),
        status,
        now,
        by,
    )


# ---------------------------------------------------------------- replay jobs

_JOB_COLUMNS = (
    "id, created_at, created_by, reason, selection, state, rate_per_s, max_failures, total,"
    " stop_reason, updated_at, finished_at"
)


async def add_job(
    conn: Conn,
    *,
    by: str,
    reason: str,
    selection: dict[str, Any],
    rate_per_s: float,
    max_failures: int,
    ids: Sequence[int],
    now: datetime,
) -> int:
    """Create a replay job over `ids` (in that order); return its id."""
    job_id = await conn.fetchval(
        "INSERT INTO replay_jobs (created_at, created_by, reason, selection, rate_per_s,"
        " max_failures, total, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $1) RETURNING id",
        now,
        by,
        reason,
        selection,
        rate_per_s,
        max_failures,
        len(ids),
    )
    await conn.copy_records_to_table(
        "replay_job_items",
        records=[(job_id, seq, letter) for seq, letter in enumerate(ids)],
        columns=["job_id", "seq", "dead_letter_id"],
    )
    return int(job_id)


async def update_job(
    conn: Conn, job_id: int, state: str, now: datetime, stop_reason: str | None = None
) -> None:
    """Move a job to `state` (finished states also stamp `finished_at`)."""
    await conn.execute(
        "UPDATE replay_jobs SET state = $2, updated_at = $3,"
        " stop_reason = coalesce($4, stop_reason),"
        " finished_at = CASE WHEN $2 IN ('done', 'stopped', 'cancelled', 'interrupted')"
        " THEN $3 ELSE finished_at END WHERE id = $1",
        job_id,
        state,
        now,
        stop_reason,
    )


async def set_item(
    conn: Conn,
    job_id: int,
    seq: int,
    state: str,
    now: datetime,
    detail: str | None = None,
    failures_before: int | None = None,
) -> None:
    """Record what happened to one item of a job."""
    await conn.execute(
        "UPDATE replay_job_items SET state = $3, at = $4, detail = coalesce($5, detail),"
        " failures_before = coalesce($6, failures_before) WHERE job_id = $1 AND seq = $2",
        job_id,
        seq,
        state,
        now,
        detail,
        failures_before,
    )


async def skip_items(conn: Conn, job_id: int, seqs: Sequence[int], now: datetime) -> None:
    """Mark items that will not be tried (the job stopped before them)."""
    await conn.execute(
        "UPDATE replay_job_items SET state = 'skipped', at = $3, detail = 'not tried'"
        " WHERE job_id = $1 AND seq = ANY($2::int[])",
        job_id,
        list(seqs),
        now,
    )


async def get_job(conn: Conn, job_id: int) -> dict[str, Any] | None:
    """One job with its item counts by state."""
    row = await conn.fetchrow(f"SELECT {_JOB_COLUMNS} FROM replay_jobs WHERE id = $1", job_id)
    if row is None:
        return None
    counts = await conn.fetch(
        "SELECT state, count(*) AS n FROM replay_job_items WHERE job_id = $1 GROUP BY state",
        job_id,
    )
    return {**dict(row), "items": {r["state"]: r["n"] for r in counts}}


async def list_jobs(conn: Conn, limit: int = 50) -> list[dict[str, Any]]:
    """The latest jobs, newest first, with item counts by state."""
    rows = await conn.fetch(
        f"SELECT {_JOB_COLUMNS}, (SELECT jsonb_object_agg(state, n) FROM (SELECT state,"
        " count(*) AS n FROM replay_job_items i WHERE i.job_id = j.id GROUP BY state) s) AS items"
        " FROM replay_jobs j ORDER BY id DESC LIMIT $1",
        limit,
    )
    return [{**dict(r), "items": r["items"] or {}} for r in rows]


async def job_items(conn: Conn, job_id: int, states: Iterable[str]) -> list[dict[str, Any]]:
    """Items of a job in the given states, in job order, with their dead letter's numbers."""
    rows = await conn.fetch(
        "SELECT i.seq, i.dead_letter_id, i.state, i.failures_before, d.message_id, d.queue"
        " FROM replay_job_items i JOIN dead_letters d ON d.id = i.dead_letter_id"
        " WHERE i.job_id = $1 AND i.state = ANY($2::text[]) ORDER BY i.seq",
        job_id,
        list(states),
    )
    return [dict(r) for r in rows]


async def settled(conn: Conn, ids: Sequence[int]) -> dict[int, tuple[str, int, bool]]:
    """For replayed dead letters: status, failures, and whether their queue's inbox has them."""
    rows = await conn.fetch(
        "SELECT d.id, d.status, d.failures, EXISTS (SELECT 1 FROM inbox i"
        " WHERE i.message_id = d.message_id AND i.consumer IN (d.queue, d.queue || '#deferred'))"
        " AS consumed FROM dead_letters d WHERE d.id = ANY($1::bigint[])",
        list(ids),
    )
    return {int(r["id"]): (r["status"], int(r["failures"]), bool(r["consumed"])) for r in rows}
