"""The consume path: messages handled concurrently are decided one by one and committed in batches.

Each handler submits a `Job` and waits. The engine gathers the jobs that arrive together (up to
`max_batch`), and for each batch opens one transaction that:

1. claims every message id in the inbox (a duplicate is acknowledged and changes nothing) and
   locks and loads the orders and warrants the batch touches: one statement;
2. runs the pure decision for each job in arrival order, each one seeing the effects of the ones
   before; a job whose decision fails is set aside with its error, and its inbox claim is released;
3. writes all effects set-wise in one statement: states, deadlines, outbox rows, technical acks,
   the audit chain (after one round trip to lock the chain's head).

So a batch costs five round trips to PostgreSQL (BEGIN, read, audit head, write, COMMIT) whatever
its size, once its connection has prepared statements of that shape (the write's text depends on
which kinds of rows a batch writes: a new shape costs one round trip more, once per connection).
A batch whose writes find a row created since its read (`RowsChanged`) is rolled back and run again.

After the commit it publishes the outbox rows with pipelined confirms; rows that fail to publish
stay for the relay. Only then are the jobs' futures resolved, so a handler acks its message after
the commit and the confirms. The confirms are recorded in the outbox just after, off the ack's
path, many batches' worth per UPDATE. If the batch's transaction fails as a whole, every
job is run again on its own, so one poison message cannot take the batch down with it.
"""

from __future__ import annotations

import asyncio
from collections import ChainMap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from contracts import Envelope
from hub.amqp.publisher import Publisher
from hub.clock import Clock
from hub.domain.acks import closed_by
from hub.domain.audit import AuditEntry
from hub.domain.authority import HUB, Actor
from hub.domain.decide import Outcome, View, keys_for, reads_outages
from hub.domain.outgoing import Outgoing
from hub.domain.rows import Changes, Deferred, OrderRow, WarrantRow
from hub.errors import StoreUnavailable
from hub.settings import EngineSettings
from hub.store import audit_repo, state_repo
from hub.store.statement import RowsChanged, Statement

__all__ = ["Engine", "EngineStats", "Job", "as_hub_error"]

log = structlog.get_logger("hub.engine")


@dataclass(eq=False)
class Job:
    """One consumed message: inbox key, events to apply, and the delivery it acknowledges."""

    consumer: str
    message_id: UUID
    events: tuple[Envelope, ...]
    acks: tuple[str, UUID] | None = None  # the delivery (queue, message id) this job made
    defer: Deferred | None = None
    undefer: int | None = None
    actor: Actor = HUB  # who is behind the events, as authenticated (`hub.domain.authority`)
    future: asyncio.Future[None] | None = field(default=None, repr=False)


@dataclass
class EngineStats:
    """Counters of the engine's work: how many transactions, for how many jobs."""

    batches: int = 0
    jobs: int = 0
    isolated: int = 0


@dataclass
class _Batch(Changes):
    """What one transaction writes, and which jobs it settles (done, or failed with their error)."""

    failed: list[tuple[Job, BaseException]] = field(default_factory=list)
    done: list[Job] = field(default_factory=list)

    def add(self, parts: Sequence[Outcome]) -> None:
        """Take the effects of one successful job, in order (later rows win)."""
        for o in parts:
            self.orders.update(o.orders)
            self.warrants.update(o.warrants)
            self.open_deadlines += o.open_deadlines
            self.satisfied += o.satisfied
            self.alerted += o.alerted
            self.sends += o.sends
            self.audit += o.audit


@dataclass
class _State:
    """The rows as the batch's decisions have left them so far (loaded rows, then changes)."""

    orders: dict[str, OrderRow]
    warrants: dict[str, WarrantRow]
    bnmp_outages: tuple[tuple[datetime, datetime | None], ...]

    def overlay(self) -> tuple[View, dict[str, OrderRow], dict[str, WarrantRow]]:
        """A view for one job: its own changes (the two dicts) laid over the batch's rows.

        A job of several events sees the effects of its earlier events; if a later one fails,
        none of its effects reach the batch, so no later job sees state that is not written.
        """
        orders: dict[str, OrderRow] = {}
        warrants: dict[str, WarrantRow] = {}
        view = View(
            ChainMap(orders, self.orders), ChainMap(warrants, self.warrants), self.bnmp_outages
        )
        return view, orders, warrants


_TRANSIENT_PG = (
    # what a PostgreSQL restart, failover or overload looks like from asyncpg
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.PostgresConnectionError,  # connection does not exist, failure, ...
    asyncpg.exceptions.OperatorInterventionError,  # admin/crash shutdown, cannot connect now
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,  # a pool or connection closing under the caller
    asyncpg.exceptions.InternalClientError,  # a connection torn down mid-operation
    ConnectionError,
    OSError,
    TimeoutError,
    RowsChanged,  # rows a batch read as absent were created meanwhile: read again
)


class Engine:
    """Batches jobs into transactions; see the module docstring for the steps."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        settings: EngineSettings,
        clock: Clock,
        decider: Callable[[Envelope, View, datetime, Actor], Outcome],
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._settings = settings
        self._clock = clock
        self._decide = decider
        self._pending: list[Job] = []
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.flush_concurrency)
        self._task: asyncio.Task[None] | None = None
        self._flushes: set[asyncio.Task[None]] = set()  # and connections being given back
        self._questions: list[tuple[str, UUID, asyncio.Future[bool]]] = []
        self._answering: asyncio.Task[None] | None = None
        self._confirmed: list[str] = []
        self._recording: asyncio.Task[None] | None = None
        self.stats = EngineStats()

    async def start(self) -> None:
        """Start the batching loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="hub-engine")

    async def stop(self) -> None:
        """Stop taking batches; flushes under way finish first."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        while self._flushes:  # flushes, and the connections they give back as they end
            await asyncio.gather(*tuple(self._flushes), return_exceptions=True)
        for task in (self._answering, self._recording):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
        for job in self._pending:
            if job.future is not None and not job.future.done():
                job.future.set_exception(StoreUnavailable("engine stopped"))
        self._pending.clear()

    async def seen(self, consumer: str, message_id: UUID) -> bool:
        """Whether `consumer` already processed `message_id` (committed).

        The questions asked within one gather window are answered by one query.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._questions.append((consumer, message_id, future))
        if self._answering is None:
            self._answering = asyncio.create_task(self._answer(), name="hub-engine-seen")
        return await future

    async def _answer(self) -> None:
        await asyncio.sleep(self._settings.max_wait_ms / 1000)
        questions, self._questions, self._answering = self._questions, [], None
        try:
            async with self._pool.acquire() as conn:
                found = await state_repo.seen_in_inbox(conn, [(c, m) for c, m, _ in questions])
        except Exception as e:
            for *_, future in questions:
                if not future.done():
                    future.set_exception(e)
            return
        for consumer, message_id, future in questions:
            if not future.done():
                future.set_result((consumer, message_id) in found)

    async def run(self, job: Job) -> None:
        """Submit `job` and wait until its batch is committed and published; raise its error."""
        job.future = asyncio.get_running_loop().create_future()
        self._pending.append(job)
        self._wakeup.set()
        await job.future

    async def _loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            # A short gather window lets the deliveries already prefetched join this batch.
            if len(self._pending) < self._settings.max_batch:
                await asyncio.sleep(self._settings.max_wait_ms / 1000)
            await self._slots.acquire()
            batch = self._pending[: self._settings.max_batch]
            del self._pending[: len(batch)]
            if self._pending:
                self._wakeup.set()
            if not batch:
                self._slots.release()
                continue
            task = asyncio.create_task(self._flush_guarded(batch))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _flush_guarded(self, jobs: list[Job]) -> None:
        try:
            await self._flush_isolating(jobs)
        finally:
            self._slots.release()

    async def _flush_isolating(self, jobs: list[Job]) -> None:
        try:
            await self._flush(jobs)
        except Exception as e:
            if len(jobs) == 1:
                _settle(jobs[0], as_hub_error(e))
                return
            log.warning("batch.failed_isolating", size=len(jobs), error=type(e).__name__)
            self.stats.isolated += 1
            for job in jobs:
                try:
                    await self._flush([job])
                except Exception as one:
                    _settle(job, as_hub_error(one))

    async def _flush(self, jobs: list[Job]) -> None:
        conn = await self._pool.acquire()
        try:
            async with conn.transaction():
                batch = await self._decide_batch(conn, jobs)
                await self._write(conn, batch)
        finally:
            self._release(conn)
        self.stats.batches += 1
        self.stats.jobs += len(jobs)
        await self._publish(batch.sends)
        for job in batch.done:
            _settle(job, None)
        for job, error in batch.failed:
            _settle(job, error)

    def _release(self, conn: Any) -> None:
        """Give `conn` back to the pool off the ack's path: the pool resets a connection it takes
        back (one more round trip), and the batch need not wait for that to publish."""
        task = asyncio.create_task(self._pool.release(conn), name="hub-engine-release")
        self._flushes.add(task)
        task.add_done_callback(self._released)

    def _released(self, task: asyncio.Task[None]) -> None:
        self._flushes.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # The pool closed the connection (its reset failed: a database restart, say).
            log.info("pool.connection_dropped", error=type(error).__name__)

    async def _decide_batch(self, conn: Any, jobs: Sequence[Job]) -> _Batch:
        loaded = await self._load(conn, jobs)
        fresh = loaded.fresh
        batch = _Batch(read_orders=set(loaded.orders), read_warrants=set(loaded.warrants))
        todo: list[Job] = []
        for j in jobs:  # the first of each id claimed now is processed; the rest are duplicates
            key = (j.consumer, j.message_id)
            (todo if key in fresh else batch.done).append(j)
            fresh.discard(key)
        state = _State(dict(loaded.orders), dict(loaded.warrants), loaded.outages)
        now = self._clock()
        for job in todo:
            try:
                parts = self._decide_job(job, state, now)
            except Exception as e:
                batch.failed.append((job, e))
                batch.released.append((job.consumer, job.message_id))
                continue
            batch.add(parts)
            batch.done.append(job)
            if job.acks is not None:
                batch.acks.append(job.acks)
            for env in job.events:  # a unit's answer acknowledges what was sent to it
                batch.closes += closed_by(env)
            if job.defer is not None:
                batch.defers.append(job.defer)
            if job.undefer is not None:
                batch.undefers.append(job.undefer)
        return batch

    def _decide_job(self, job: Job, state: _State, now: datetime) -> list[Outcome]:
        """The effects of one job's events, each decided on the state the ones before left.

        `state` takes the job's rows only once all its events are decided.
        """
        view, orders, warrants = state.overlay()
        parts = [_received(job, now)]
        for env in job.events:
            step = self._decide(env, view, now, job.actor)
            orders.update(step.orders)
            warrants.update(step.warrants)
            parts.append(step)
        state.orders.update(orders)
        state.warrants.update(warrants)
        return parts

    async def _load(self, conn: Any, jobs: Sequence[Job]) -> state_repo.Loaded:
        """Claim the jobs' inbox keys and lock the rows their events touch: one statement.

        Rows are locked for duplicates too (their decisions are skipped): harmless, and it spares
        a round trip to learn which ones are fresh first.
        """
        orders: set[str] = set()
        warrants: set[str] = set()
        outages = False
        for job in jobs:
            for env in job.events:
                o, w = keys_for(env)
                orders |= o
                warrants |= w
                outages = outages or reads_outages(env)
        keys = sorted({(j.consumer, j.message_id) for j in jobs})
        return await state_repo.claim_and_load(
            conn, keys, orders, warrants, "bnmp" if outages else None
        )

    async def _write(self, conn: Any, batch: _Batch) -> None:
        """Every write of the batch in one statement (and one round trip to lock the audit head)."""
        stmt = Statement()
        state_repo.add_changes(stmt, batch)
        await audit_repo.add_entries(conn, stmt, batch.audit)
        await stmt.execute(conn)

    async def _publish(self, sends: Sequence[Outgoing]) -> None:
        if not sends:
            return
        results = await self._publisher.publish_many(sends)
        ok = [m.message_id for m, r in zip(sends, results, strict=True) if r is None]
        failed = len(sends) - len(ok)
        if failed:
            log.warning(
                "outbox.publish_deferred", failed=failed, reason=str(next(r for r in results if r))
            )
        if ok:
            self._confirmed += ok
            if self._recording is None:
                self._recording = asyncio.create_task(self._record(), name="hub-engine-confirms")

    async def _record(self) -> None:
        """Record the broker's confirms in the outbox, the confirms of many batches per UPDATE.

        Off the ack's path: a message is acked once its publishes are confirmed, which is the
        guarantee; this record only spares the relay a needless re-publish. Should the process
        stop before it is written, the relay re-publishes (consumers dedup by message id).
        """
        try:
            # Gathered a moment first: under a light load, one UPDATE for many batches' confirms.
            await asyncio.sleep(self._settings.confirm_record_ms / 1000)
            while self._confirmed:
                ids, self._confirmed = self._confirmed, []
                try:
                    async with self._pool.acquire() as conn:
                        await state_repo.mark_confirmed(conn, ids)
                except Exception as e:  # the relay re-publishes them; consumers dedup by id
                    log.warning("outbox.confirm_not_recorded", error=type(e).__name__)
        finally:
            self._recording = None


def _received(job: Job, now: datetime) -> Outcome:
    return Outcome(
        audit=tuple(
            AuditEntry(
                now,
                job.actor.name,  # authenticated, never the envelope's self-declared source
                "message.received",
                env.correlation_id,
                {"message_id": str(env.message_id), "kind": env.kind, "queue": job.consumer},
            )
            for env in job.events
        )
    )


def as_hub_error(error: BaseException) -> BaseException:
    """A database or network error as `StoreUnavailable` (transient: retried, never parked).

    Every place that settles a failed message translates first, so an outage of PostgreSQL met
    anywhere (a batch, an inbox lookup, a deferral) retries instead of dead-lettering as
    `unexpected:<error>`.
    """
    if isinstance(error, _TRANSIENT_PG):
        translated = StoreUnavailable(f"{type(error).__name__}: {error}")
        translated.__cause__ = error
        return translated
    return error


def _settle(job: Job, error: BaseException | None) -> None:
    if job.future is None or job.future.done():
        return
    if error is None:
        job.future.set_result(None)
    else:
        job.future.set_exception(error)
