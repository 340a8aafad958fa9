"""A topology that heals: what was deleted by hand under the running hub is declared again.

An operator (or a script, or a policy) can delete a queue, an exchange or a binding of the hub's
while it runs. Each loses messages in its own way: a deleted work queue cancels the hub's consumer
and every copy routed to it meanwhile is gone; a deleted exchange or binding makes what a system
sends there unroutable; a deleted unit queue drops that unit's copies of messages whose other
copies were delivered (one publish per destination set: `mandatory` returns a message only when
it reached no queue). So the `Healer` declares the hub's topology again:

* at once when the broker cancels one of the hub's consumers (its `basic.cancel` notification is
  the signal that a consumed queue went away: `hub.amqp.intake` pokes the healer); aio-pika then
  consumes the queue again, as it restores a consumer the broker cancelled;
* every `every_s` seconds otherwise, for what sends no signal (an exchange, a binding, a queue the
  hub does not consume itself).

Each round checks every exchange and queue passively, declares the missing ones (logged and
counted in `hub_topology_redeclared_total`), and binds every binding again (binding what is bound
is a no-op). What was published while a queue was missing is recovered by the reconciler
(`hub.pipeline.reconciler`), which publishes each unacknowledged copy again. The healer also tells
the reconciler what the broker says of a queue (`inspect`). It works on raw channels of its own on
the hub's connection, never on FastStream's declarer, which remembers what it declared once and
would not declare it again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import aiormq
import structlog

from hub import metrics
from hub.amqp.flow import BrokerFlow
from hub.domain.acks import QueueState
from hub.domain.topology import Topology

__all__ = ["Healer"]

log = structlog.get_logger("hub.heal")

Connect = Callable[[], Awaitable[Any]]  # the hub's aio-pika robust connection


class Healer:
    """Declares the topology again on a signal (`poke`) and on a schedule (`run`)."""

    def __init__(
        self, connect: Connect, topology: Topology, flow: BrokerFlow, timeout_s: float = 10.0
    ) -> None:
        self._connect = connect
        self._topology = topology
        self._flow = flow
        self._timeout = timeout_s
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self.rounds = 0  # rounds completed (tests wait on it)

    def poke(self, why: str = "") -> None:
        """Heal as soon as possible (a consumer was cancelled by the broker, say)."""
        log.warning("topology.heal_requested", why=why)
        self._wake.set()

    async def run(self, *, every_s: float) -> None:
        """Heal on every poke, and every `every_s` seconds, for ever (not while blocked)."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every_s):
                    await self._wake.wait()
            self._wake.clear()
            if self._flow.blocked:
                continue  # the broker reads nothing from the hub now: after the unblocking
            try:
                await self.heal()
            except Exception as e:  # broker away or refusing: the next round tries again
                log.warning("topology.heal_failed", error=type(e).__name__, detail=str(e)[:200])

    async def heal(self) -> dict[str, list[str]]:
        """One round: declare what is missing, bind every binding; return what was missing."""
        async with self._lock, asyncio.timeout(self._timeout):
            missing = await self._round()
        self.rounds += 1
        for kind, names in missing.items():
            if names:
                metrics.TOPOLOGY_REDECLARED.labels(kind).inc(len(names))
                log.error("topology.redeclared", kind=kind, names=names)
        return missing

    async def _round(self) -> dict[str, list[str]]:
        t = self._topology
        channels = _Channels(await self._connect())
        try:
            gone_exchanges = [e for e in t.exchanges if not await channels.exchange_exists(e.name)]
            gone_queues = [q for q in t.queues if not (await channels.queue_state(q.name)).exists]
            ch = await channels.get()
            for e in gone_exchanges:
                await ch.exchange_declare(exchange=e.name, exchange_type=e.type, durable=True)
            for q in gone_queues:
                await ch.queue_declare(queue=q.name, durable=True, arguments=q.arguments)
            for b in t.bindings:
                await ch.queue_bind(
                    queue=b.destination,
                    exchange=b.source,
                    routing_key=b.routing_key,
                    arguments=b.arguments or None,
                )
        finally:
            await channels.close()
        return {
            "exchange": [e.name for e in gone_exchanges],
            "queue": [q.name for q in gone_queues],
        }

    async def inspect(self, names: Iterable[str]) -> dict[str, QueueState]:
        """What the broker says of each queue now: missing, or how many messages are ready."""
        out: dict[str, QueueState] = {}
        async with asyncio.timeout(self._timeout):
            channels = _Channels(await self._connect())
            try:
                for name in dict.fromkeys(names):
                    out[name] = await channels.queue_state(name)
            finally:
                await channels.close()
        return out


class _Channels:
    """Raw AMQP channels on the hub's connection, one at a time: a passive declare of something
    missing closes its channel (404), and the next question gets a fresh one."""

    def __init__(self, connection: Any) -> None:
        transport = getattr(connection, "transport", None)
        if transport is None:
            raise ConnectionError("the hub's connection is being re-established")
        self._amqp: aiormq.abc.AbstractConnection = transport.connection
        self._channel: aiormq.abc.AbstractChannel | None = None

    async def get(self) -> aiormq.abc.AbstractChannel:
        if self._channel is None or self._channel.is_closed:
            self._channel = await self._amqp.channel()
        return self._channel

    async def exchange_exists(self, name: str) -> bool:
        ch = await self.get()
        try:
            await ch.exchange_declare(exchange=name, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return False
        return True

    async def queue_state(self, name: str) -> QueueState:
        ch = await self.get()
        try:
            ok = await ch.queue_declare(queue=name, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return QueueState(exists=False)
        return QueueState(exists=True, ready=int(ok.message_count or 0))

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                await self._channel.close()
