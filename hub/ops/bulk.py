"""Staged, throttled bulk replay: one canary first, then the rest at a pace, stopping on failures.

A job fixes its dead letters when it is created (in id order) and records each item's fate, so its
progress survives in PostgreSQL and the dashboard shows it. The runner:

1. replays items until one is published (refused ones are recorded and skipped), then waits until
   that canary is settled: consumed (the failed queue's inbox has its message id) or dead-lettered
   again (its row is parked with one more failure). Anything but consumed within
   `replay_canary_timeout_s` stops the job before anything else is replayed;
2. replays the rest one at a time, `1 / rate` seconds apart, checking every 0.1 s which earlier
   ones settled; `replay_max_failures` failures in a row (publish refused by the broker or
   dead-lettered again) stop the job and the items not yet tried are marked skipped;
3. waits up to `replay_settle_s` for the last ones; those still unsettled are "unconfirmed".

A message replayed to a queue the hub does not consume (a custodial unit's) counts as settled once
published: its consumer is outside the hub, and a failure there comes back as a dead letter.
A job is cancelled between two items; a process that stops mid-job marks it `interrupted`. One
job at a time runs per filter (`selection_key`): a second one of the same filter is refused while
the first is in its canary or running (`FilterBusy`). A job of more than `approval_above` dead
letters starts only once a second admin approved it (`hub.ops.approvals`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import asyncpg
import structlog

from hub.clock import Clock
from hub.domain.audit import AuditEntry
from hub.ops.actions import Actions
from hub.ops.auth import Principal
from hub.ops.progress import BulkProgress, ItemOutcome
from hub.ops.search import DeadLetterFilter, selection_key
from hub.settings import OpsSettings
from hub.store import audit_repo, ops_jobs, ops_letters
from hub.store.ops_jobs import FilterBusy, JobItem
from hub.store.pool import Conn

__all__ = ["MAX_ITEMS", "BulkReplays", "FilterBusy", "NothingToReplay", "settle_outcome"]

log = structlog.get_logger("hub.ops.bulk")

Sleep = Callable[[float], Awaitable[None]]
_POLL_S = 0.1
# How often a running job looks at what came back (and for a cancel): at most this late it stops.
_CHECK_S = 0.1
MAX_ITEMS = 10_000


class NothingToReplay(ValueError):
    """The selection holds no parked dead letter."""


def settle_outcome(
    status: str, failures: int, consumed: bool, failures_before: int, hub_consumes: bool
) -> Literal["ok", "failed"] | None:
    """Whether a replayed dead letter settled, and how (None: not yet) (pure)."""
    if status == "parked" and failures > failures_before:
        return "failed"
    if consumed or not hub_consumes:
        return "ok"
    return None


@dataclass
class _Cursor:
    """The job's items not yet taken, and the pause between two replays."""

    items: list[JobItem]
    interval_s: float
    taken: int = 0

    def has_more(self) -> bool:
        """Whether an item is left."""
        return self.taken < len(self.items)

    def take(self) -> JobItem | None:
        """The next item, or None when all were taken."""
        if not self.has_more():
            return None
        self.taken += 1
        return self.items[self.taken - 1]

    def untried(self) -> list[int]:
        """Sequence numbers of the items never taken."""
        return [item.seq for item in self.items[self.taken :]]


@dataclass(frozen=True)
class _Sent:
    seq: int
    letter_id: int
    queue: str
    failures_before: int


class BulkReplays:
    """Creates replay jobs and runs them (in the background for the API, in front for the CLI)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        actions: Actions,
        clock: Clock,
        settings: OpsSettings,
        consumed_queues: Collection[str],
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._pool = pool
        self._actions = actions
        self._clock = clock
        self._settings = settings
        self._consumed = frozenset(consumed_queues)
        self._sleep = sleep
        self._tasks: dict[int, asyncio.Task[BulkProgress]] = {}

    async def matching(self, selection: DeadLetterFilter) -> list[int]:
        """The parked dead letters a bulk replay of `selection` would take now, in id order."""
        parked = selection.model_copy(update={"status": "parked"})
        async with self._pool.acquire() as conn:
            return await ops_letters.select_ids(conn, parked, MAX_ITEMS)

    async def create(
        self, selection: DeadLetterFilter, who: Principal, reason: str, rate: float | None = None
    ) -> int:
        """Fix the job's dead letters (parked ones only) and audit its start; return its id."""
        async with self._pool.acquire() as conn, conn.transaction():
            return await self.create_in(conn, selection, who, reason, rate)

    async def create_in(
        self,
        conn: Conn,
        selection: DeadLetterFilter,
        who: Principal,
        reason: str,
        rate: float | None = None,
        *,
        only: Sequence[int] | None = None,
        approval: Mapping[str, object] | None = None,
    ) -> int:
        """`create` in the caller's transaction; `only` keeps the dead letters fixed when the job
        was requested (an approved request), `approval` names who approved it and why."""
        parked = selection.model_copy(update={"status": "parked"})
        pace = min(rate or self._settings.replay_rate_per_s, self._settings.replay_rate_per_s)
        fixed = parked if only is None else parked.model_copy(update={"ids": tuple(only)})
        ids = await ops_letters.select_ids(conn, fixed, MAX_ITEMS)
        if not ids:
            raise NothingToReplay("no parked dead letter matches")
        now = self._clock()
        chosen = parked.model_dump(mode="json", exclude_defaults=True)
        approved_by = str(approval["approved_by"]) if approval else None
        job_id = await ops_jobs.add_job(
            conn,
            by=who.actor,
            reason=reason,
            selection=chosen,
            rate_per_s=pace,
            max_failures=self._settings.replay_max_failures,
            ids=ids,
            now=now,
            selection_key=selection_key(parked),
            approved_by=approved_by,
        )
        detail = {
            "job": job_id,
            "count": len(ids),
            "selection": chosen,
            "reason": reason,
            "role": who.role.label,
            **(approval or {}),
        }
        entry = AuditEntry(now, who.actor, "dead_letter.bulk_replay_started", "-", detail)
        await audit_repo.append(conn, [entry])
        return job_id

    def spawn(self, job_id: int, who: Principal, reason: str) -> None:
        """Run a job in the background."""
        task = asyncio.create_task(self.run(job_id, who, reason), name=f"replay-job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(job_id, None))

    async def cancel(self, job_id: int, who: Principal, reason: str) -> bool:
        """Ask a running job to stop before its next item; audit the request."""
        async with self._pool.acquire() as conn, conn.transaction():
            changed = await ops_jobs.request_cancel(conn, job_id, self._clock())
            if changed:
                detail = {"job": job_id, "reason": reason, "role": who.role.label}
                entry = AuditEntry(self._clock(), who.actor, "replay_job.cancelled", "-", detail)
                await audit_repo.append(conn, [entry])
        return changed

    async def aclose(self) -> None:
        """Stop background jobs (they are marked interrupted)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self, job_id: int, who: Principal, reason: str) -> BulkProgress:
        """Run a job to its end (see the module docstring); return its final progress."""
        try:
            async with self._pool.acquire() as conn:
                job = await ops_jobs.get_job(conn, job_id)
                items = await ops_jobs.job_items(conn, job_id, ["pending"])
            if job is None:
                raise LookupError(f"no replay job {job_id}")
            todo = _Cursor(items, 1 / float(job.rate_per_s))
            progress = BulkProgress(int(job.max_failures))
            progress = await self._canary(job_id, todo, progress, who, reason)
            if not progress.finished:
                progress = await self._rest(job_id, todo, progress, who, reason)
            progress = progress.finish()
            await self._finish(job_id, progress, todo.untried())
        except asyncio.CancelledError:
            await self._state(job_id, "interrupted", "the ops process stopped during the job")
            raise
        log.info("replay_job.finished", job=job_id, state=progress.phase, ok=progress.ok)
        return progress

    async def _canary(
        self, job_id: int, todo: _Cursor, progress: BulkProgress, who: Principal, reason: str
    ) -> BulkProgress:
        while progress.phase == "canary" and (item := todo.take()) is not None:
            sent = await self._send(job_id, item, who, reason)
            if isinstance(sent, _Sent):
                outcome, detail = await self._await_canary(job_id, sent)
                progress = progress.record(outcome, detail)
            else:
                progress = progress.record(*sent)
        await self._save(job_id, progress)
        return progress

    async def _await_canary(self, job_id: int, sent: _Sent) -> tuple[ItemOutcome, str]:
        deadline = time.monotonic() + self._settings.replay_canary_timeout_s
        while time.monotonic() < deadline:
            settled = await self._collect(job_id, {sent.letter_id: sent})
            if settled:
                outcome = settled[0][0]
                return outcome, "was consumed" if outcome == "ok" else "failed again"
            await self._sleep(_POLL_S)
        await self._item(job_id, sent.seq, "unconfirmed", "not settled in time")
        timeout = self._settings.replay_canary_timeout_s
        return "unconfirmed", f"was not consumed within {timeout:g} s"

    async def _rest(
        self, job_id: int, todo: _Cursor, progress: BulkProgress, who: Principal, reason: str
    ) -> BulkProgress:
        outstanding: dict[int, _Sent] = {}
        check_at = 0.0
        while todo.has_more():
            await self._sleep(todo.interval_s)
            if time.monotonic() >= check_at:  # settle what came back before sending more
                check_at = time.monotonic() + _CHECK_S
                if await self._cancelled(job_id):
                    return progress.stop("cancelled")
                for outcome, detail in await self._collect(job_id, outstanding):
                    progress = progress.record(outcome, detail)
                if progress.finished:
                    return progress
                await self._save(job_id, progress)
            item = todo.take()
            assert item is not None
            sent = await self._send(job_id, item, who, reason)
            if isinstance(sent, _Sent):
                outstanding[sent.letter_id] = sent
            else:
                progress = progress.record(*sent)
        return await self._drain(job_id, outstanding, progress)

    async def _drain(
        self, job_id: int, outstanding: dict[int, _Sent], progress: BulkProgress
    ) -> BulkProgress:
        deadline = time.monotonic() + self._settings.replay_settle_s
        while outstanding and not progress.finished and time.monotonic() < deadline:
            await self._sleep(_POLL_S)
            for outcome, detail in await self._collect(job_id, outstanding):
                progress = progress.record(outcome, detail)
        for sent in outstanding.values():
            await self._item(job_id, sent.seq, "unconfirmed", "not settled in time")
            progress = progress.record("unconfirmed")
        return progress

    async def _send(
        self, job_id: int, item: JobItem, who: Principal, reason: str
    ) -> _Sent | tuple[ItemOutcome, str]:
        result = await self._actions.replay(item.dead_letter_id, who, reason, job_id=job_id)
        if result.done:
            await self._item(job_id, item.seq, "sent", result.why, result.failures)
            return _Sent(item.seq, item.dead_letter_id, item.queue, result.failures)
        outcome: ItemOutcome = "failed" if result.code == "publish_failed" else "refused"
        await self._item(job_id, item.seq, outcome, f"{result.code}: {result.why}")
        return outcome, result.why

    async def _collect(
        self, job_id: int, outstanding: dict[int, _Sent]
    ) -> list[tuple[ItemOutcome, str]]:
        """Settle what can be settled among `outstanding` (removing it); return the outcomes."""
        if not outstanding:
            return []
        async with self._pool.acquire() as conn:
            rows = await ops_jobs.settled(conn, list(outstanding))
        out: list[tuple[ItemOutcome, str]] = []
        for letter_id, (status, failures, consumed) in sorted(rows.items()):
            sent = outstanding[letter_id]
            hub_consumes = sent.queue in self._consumed
            verdict = settle_outcome(status, failures, consumed, sent.failures_before, hub_consumes)
            if verdict is None:
                continue
            del outstanding[letter_id]
            detail = "consumed" if verdict == "ok" else f"dead letter {letter_id} failed again"
            await self._item(job_id, sent.seq, verdict, detail)
            out.append((verdict, detail))
        return out

    async def _item(
        self, job_id: int, seq: int, state: str, detail: str, failures: int | None = None
    ) -> None:
        async with self._pool.acquire() as conn:
            await ops_jobs.set_item(conn, job_id, seq, state, self._clock(), detail, failures)

    async def _cancelled(self, job_id: int) -> bool:
        return await ops_jobs.job_state(self._pool, job_id) == "cancelling"

    async def _save(self, job_id: int, progress: BulkProgress) -> None:
        # A finished job's state is written by `_finish`, with its untried items, in one go.
        if not progress.finished:
            await self._state(job_id, progress.phase, progress.stop_reason)

    async def _state(self, job_id: int, state: str, reason: str | None = None) -> None:
        async with self._pool.acquire() as conn:
            await ops_jobs.update_job(conn, job_id, state, self._clock(), reason)

    async def _finish(self, job_id: int, progress: BulkProgress, untried: list[int]) -> None:
        cancelled = progress.stop_reason == "cancelled"
        async with self._pool.acquire() as conn, conn.transaction():
            await ops_jobs.skip_items(conn, job_id, untried, self._clock())
            state = "cancelled" if cancelled else progress.phase
            await ops_jobs.update_job(conn, job_id, state, self._clock(), progress.stop_reason)
