"""Deliveries to one external system, behind its circuit breaker, with a durable in-order backlog.

While the system answers, a delivery calls it and the answer's events go to the engine. When a call
fails because the system is unavailable, that delivery and every later one are deferred: stored in
the `deferred` table (ordered by the document's time) and acked. The drainer retries the oldest at
once; after `CircuitPolicy.threshold` failures in a row the circuit opens, the outage is recorded
(the contingency rule reads it) and the drainer only probes every `probe_every`. When a delivery
succeeds the circuit closes and the backlog is delivered in order, one at a time, before new
deliveries go straight through again. Unavailability never sends a delivery to the retry ladder,
from which it could overtake the ones behind it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from contracts import ContractError, Envelope, parse_envelope
from hub import metrics
from hub.clock import Clock
from hub.connector import Deliver
from hub.domain.circuit import Circuit, CircuitPolicy
from hub.domain.topology import Connector
from hub.errors import UpstreamUnavailable
from hub.pipeline.consumer import Received
from hub.pipeline.delivered import CallResult, Delivered, Postponed
from hub.pipeline.engine import Engine, Job
from hub.store import deferred_repo
from hub.store.deferred_repo import DeferredRow
from hub.store.pool import Conn

__all__ = ["CallResult", "Delivered", "Deliveries", "Postponed", "run_drainer"]

log = structlog.get_logger("hub.delivery")

# How a deferred delivery that fails for good is settled: `Consumer.settle` (dead letter, ladder).
Settle = Callable[[Received, str, BaseException], Awaitable[None]]


class Deliveries:
    """Calls one external system through its circuit; defers while it is down; drains in order."""

    def __init__(
        self,
        connector: Connector,
        deliver: Deliver,
        engine: Engine,
        pool: asyncpg.Pool,
        clock: Clock,
        settle: Settle,
        policy: CircuitPolicy | None = None,
    ) -> None:
        self.connector = connector
        self._settle = settle
        self._deliver = deliver
        self._engine = engine
        self._pool = pool
        self._clock = clock
        self.policy = policy or CircuitPolicy()
        self.circuit = Circuit()
        self.backlog = False  # deferred deliveries exist: new ones must queue behind them
        self._deferring = 0  # deferrals decided but not yet committed to the `deferred` table
        # direct calls in flight (started before any backlog existed), and those that failed into
        # the backlog until their deferral is committed: the drainer waits for them (order)
        self._calling: set[UUID] = set()

    async def load(self) -> None:
        """Pick up the state a previous process left: an open circuit or a backlog."""
        async with self._pool.acquire() as conn:
            saved = await deferred_repo.saved_circuit(conn, self.connector)
            if saved is not None and saved.state == "open":
                self.circuit = saved
            self.backlog = await deferred_repo.has_deferred(conn, self.connector)

    async def call(self, env: Envelope, headers: Mapping[str, Any]) -> CallResult:
        """Deliver now, or return `Postponed` when the circuit is open or a backlog is waiting."""
        if self.circuit.state == "open" or self.backlog:
            self._deferring += 1
            return Postponed()
        started = asyncio.get_running_loop().time()
        self._calling.add(env.message_id)
        try:
            events = await self._deliver(env, headers)
        except UpstreamUnavailable:
            self._observe("unavailable", started)
            try:
                await self._failed()
            except BaseException:
                self._calling.discard(env.message_id)
                raise
            self._deferring += 1
            return Postponed()  # behind it, every later delivery waits too: order is kept
        except BaseException:
            self._calling.discard(env.message_id)
            self._observe("error", started)
            raise
        self._calling.discard(env.message_id)
        self._observe("ok", started)
        if self.circuit.failures:
            await self._recovered()
        return Delivered(events)

    def deferral_settled(self, message_id: UUID) -> None:
        """A deferral returned by `call` is now committed (or failed): the drainer may see it."""
        self._deferring -= 1
        self._calling.discard(message_id)

    def _observe(self, outcome: str, started: float) -> None:
        elapsed = asyncio.get_running_loop().time() - started
        metrics.UPSTREAM_SECONDS.labels(self.connector, outcome).observe(elapsed)

    async def _failed(self) -> str:
        """Count a failure; return the circuit's state after it."""
        was = self.circuit.state
        self.circuit = self.circuit.failed(self._clock(), self.policy)
        self.backlog = True
        if was != self.circuit.state:
            log.warning("circuit.opened", connector=self.connector, failures=self.circuit.failures)
        await self._save()
        return self.circuit.state

    async def _recovered(self) -> None:
        was = self.circuit.state
        self.circuit = self.circuit.succeeded(self._clock())
        if was == "open":
            log.info("circuit.closed", connector=self.connector)
        await self._save()

    async def _save(self) -> None:
        async with self._pool.acquire() as conn:
            await deferred_repo.save_circuit(conn, self.connector, self.circuit, self._clock())

    # ------------------------------------------------------------------ the drainer

    async def drain_once(self) -> int:
        """Probe or drain: deliver deferred messages in order while the system answers."""
        now = self._clock()
        if self.circuit.state == "open" and not self.circuit.probe_due(now, self.policy):
            return 0
        if self.circuit.state == "closed" and not self.backlog:
            return 0
        if self._calling:
            # A call started before the backlog may still fail into it, and one that failed may
            # not be in the table yet: the drainer would deliver later documents before it.
            return 0
        self.circuit = self.circuit.probed(now) if self.circuit.state == "open" else self.circuit
        async with self._pool.acquire() as conn:
            if not await deferred_repo.try_lock_drain(conn, self.connector):
                return 0
            try:
                return await self._drain(conn)
            finally:
                await deferred_repo.unlock_drain(conn, self.connector)

    async def _drain(self, conn: Conn) -> int:
        """Deliver the backlog page by page: calls one at a time, in order; commits pipelined."""
        done = 0
        while True:
            rows = await deferred_repo.oldest_deferred(conn, self.connector)
            if not rows:
                # Not while a deferral is on its way to the table: it would be overtaken.
                self.backlog = self._deferring > 0
                return done
            commits: list[Awaitable[None]] = []
            stopped = False
            for r in rows:
                job = await self._redeliver(r)
                if job is None:
                    stopped = True
                    break
                commits.append(self._engine.run(job))
            await asyncio.gather(*commits)  # a failure leaves its row: delivered again (idempotent)
            done += len(commits)
            if stopped:
                return done

    async def _redeliver(self, r: DeferredRow) -> Job | None:
        """Make one deferred delivery; None when the system is still down (stop draining)."""
        env_or_error = _parse(r.body)
        received = Received(r.queue, r.body, r.headers, str(r.message_id), None, None)
        undo = Job(f"{r.queue}#deferred", r.message_id, (), undefer=r.seq)
        if not isinstance(env_or_error, Envelope):
            await self._settle(received, "unknown", env_or_error)
            return undo
        try:
            events = await self._deliver(env_or_error, r.headers)
        except UpstreamUnavailable:
            await self._failed()
            return None
        except Exception as e:  # permanent (or throttled): settled like any consumed message
            await self._settle(received, env_or_error.kind, e)
            return undo
        if self.circuit.state == "open" or self.circuit.failures:
            await self._recovered()
        return dataclasses.replace(undo, events=events, acks=(r.queue, r.message_id))


def _parse(body: bytes) -> Envelope | ContractError:
    try:
        return parse_envelope(body)
    except ContractError as e:
        return e


async def run_drainer(deliveries: Deliveries, *, every_s: float) -> None:
    """Drain for ever (a probe every `CircuitPolicy.probe_every` while the system is down)."""
    while True:
        try:
            await deliveries.drain_once()
        except Exception as e:  # keep draining through database outages and bad deferred rows
            log.warning(
                "deferred.drain_failed", connector=deliveries.connector, error=type(e).__name__
            )
        await asyncio.sleep(every_s)
