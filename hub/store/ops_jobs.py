"""SQL of the ops service for staged bulk replays: jobs, their items, and what came back.

A job fixes its dead letters when it is created (`replay_job_items`, in the order given) and each
item's fate is written as it happens, so a job's progress survives in PostgreSQL and the dashboard
reads it from here. Plain SQL, no decisions: `hub.ops.bulk` decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg

from hub.store.pool import Conn

__all__ = [
    "FilterBusy",
    "JobItem",
    "ReplayJob",
    "add_job",
    "get_job",
    "job_items",
    "job_state",
    "list_jobs",
    "request_cancel",
    "set_item",
    "settled",
    "skip_items",
    "update_job",
]

_JOB_COLUMNS: Final = (
    "id, created_at, created_by, reason, selection, state, rate_per_s, max_failures, total,"
    " stop_reason, updated_at, finished_at"
)


class FilterBusy(LookupError):
    """A bulk replay of the same filter is running: `job_id` (one at a time per filter)."""

    def __init__(self, job_id: int | None) -> None:
        super().__init__(job_id)
        self.job_id = job_id


@dataclass(frozen=True)
class ReplayJob:
    """A replay job as stored, with its items counted by state."""

    id: int
    created_at: datetime
    created_by: str
    reason: str
    selection: Mapping[str, Any]
    state: str
    rate_per_s: float
    max_failures: int
    total: int
    stop_reason: str | None
    updated_at: datetime
    finished_at: datetime | None
    items: Mapping[str, int]


@dataclass(frozen=True)
class JobItem:
    """One item of a job, with the numbers of its dead letter."""

    seq: int
    dead_letter_id: int
    state: str
    failures_before: int | None
    message_id: UUID | None
    queue: str


async def add_job(
    conn: Conn,
    *,
    by: str,
    reason: str,
    selection: dict[str, object],
    rate_per_s: float,
    max_failures: int,
    ids: Sequence[int],
    now: datetime,
    selection_key: str | None = None,
    approved_by: str | None = None,
) -> int:
    """Create a replay job over `ids` (in that order); return its id. FilterBusy when a job of
    the same `selection_key` is running (one bulk replay at a time per filter)."""
    try:
        async with conn.transaction():  # a savepoint: the busy job is read after the violation
            job_id = await conn.fetchval(
                "INSERT INTO replay_jobs (created_at, created_by, reason, selection, rate_per_s,"
                " max_failures, total, updated_at, selection_key, approved_by)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $1, $8, $9) RETURNING id",
                now,
                by,
                reason,
                selection,
                rate_per_s,
                max_failures,
                len(ids),
                selection_key,
                approved_by,
            )
    except asyncpg.UniqueViolationError:
        busy = await conn.fetchval(
            "SELECT id FROM replay_jobs WHERE selection_key = $1"
            " AND state IN ('canary', 'running')",
            selection_key,
        )
        raise FilterBusy(busy) from None
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


async def request_cancel(conn: Conn, job_id: int, now: datetime) -> bool:
    """Ask a running job (canary or running) to stop before its next item; whether it was one."""
    changed = await conn.fetchval(
        "UPDATE replay_jobs SET state = 'cancelling', updated_at = $2"
        " WHERE id = $1 AND state IN ('canary', 'running') RETURNING id",
        job_id,
        now,
    )
    return changed is not None


async def job_state(db: Conn | asyncpg.Pool, job_id: int) -> str | None:
    """A job's state (None when there is no such job); `db` may be a pool (one short read)."""
    state = await db.fetchval("SELECT state FROM replay_jobs WHERE id = $1", job_id)
    return None if state is None else str(state)


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


async def get_job(conn: Conn, job_id: int) -> ReplayJob | None:
    """One job with its item counts by state."""
    row = await conn.fetchrow(f"SELECT {_JOB_COLUMNS} FROM replay_jobs WHERE id = $1", job_id)
    if row is None:
        return None
    counts = await conn.fetch(
        "SELECT state, count(*) AS n FROM replay_job_items WHERE job_id = $1 GROUP BY state",
        job_id,
    )
    return ReplayJob(**dict(row), items={r["state"]: r["n"] for r in counts})


async def list_jobs(conn: Conn, limit: int = 50) -> list[ReplayJob]:
    """The latest jobs, newest first, with item counts by state."""
    rows = await conn.fetch(
        f"SELECT {_JOB_COLUMNS}, (SELECT jsonb_object_agg(state, n) FROM (SELECT state,"
        " count(*) AS n FROM replay_job_items i WHERE i.job_id = j.id GROUP BY state) s) AS items"
        " FROM replay_jobs j ORDER BY id DESC LIMIT $1",
        limit,
    )
    return [ReplayJob(**{**dict(r), "items": r["items"] or {}}) for r in rows]


async def job_items(conn: Conn, job_id: int, states: Iterable[str]) -> list[JobItem]:
    """Items of a job in the given states, in job order, with their dead letter's numbers."""
    rows = await conn.fetch(
        "SELECT i.seq, i.dead_letter_id, i.state, i.failures_before, d.message_id, d.queue"
        " FROM replay_job_items i JOIN dead_letters d ON d.id = i.dead_letter_id"
        " WHERE i.job_id = $1 AND i.state = ANY($2::text[]) ORDER BY i.seq",
        job_id,
        list(states),
    )
    return [JobItem(**dict(r)) for r in rows]


async def settled(conn: Conn, ids: Sequence[int]) -> dict[int, tuple[str, int, bool]]:
    """For replayed dead letters: status, failures, and whether their queue's inbox has them."""
    rows = await conn.fetch(
        "SELECT d.id, d.status, d.failures, EXISTS (SELECT 1 FROM inbox i"
        " WHERE i.message_id = d.message_id AND i.consumer IN (d.queue, d.queue || '#deferred'))"
        " AS consumed FROM dead_letters d WHERE d.id = ANY($1::bigint[])",
        list(ids),
    )
    return {int(r["id"]): (r["status"], int(r["failures"]), bool(r["consumed"])) for r in rows}
