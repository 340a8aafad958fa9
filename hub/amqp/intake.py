"""The hub's work queues, consumed on aio-pika's robust channels, acknowledged once per loop turn.

FastStream's RabbitMQ subscriber takes each message through a stack of its own (context scope,
logging and acknowledgement middlewares, parser, decoder, call wrappers, a correlation id): 16 % of
a hop's CPU in the profile (`bench/README.md`), none of which the hub uses, since the engine batches
and `hub.pipeline.consumer` decides every message's fate. FastStream has no batch subscriber for
RabbitMQ. So the work queues (each connector's `.in`, and `.out` where the hub delivers) are
consumed here; FastStream keeps the connection, the declarations, the dead-letter parkers and the
AsyncAPI document.

Each queue gets a robust aio-pika channel with the hub's prefetch and a consumer on the queue,
declared with its topology arguments: after a reconnect aio-pika restores both, as it does under
FastStream, and after the broker cancels the consumer (the queue was deleted) aio-pika declares
the queue again and consumes it again at once; the intake also tells `on_cancel` (the healer,
which declares the rest of the topology again: `hub.amqp.heal`).

While the broker blocks the hub's connection (a resource alarm: `hub.amqp.flow`) no new delivery
is handed to a handler: the ones that arrive wait (at most the prefetch per queue) until the
connection is unblocked.

A handler that returns has its message acked; one that raises `Requeue` has it nacked back to its
queue (the quorum queue's delivery limit ends any loop); anything else rejects it, and the queue's
dead-letter exchange takes it (`hub.pipeline.consumer` lets no known error get that far).
Settlements are sent once per event-loop turn per channel: nacks and rejects first, then the acks,
as one `basic.ack` with `multiple` for every tag below the lowest still being handled and one each
for the rest. An ack that never reaches the broker means a redelivery, which the inbox drops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustQueue

from hub.amqp.flow import BrokerFlow
from hub.errors import Requeue

__all__ = ["Intake", "Settlements", "WorkQueue", "settlement_frames"]

log = structlog.get_logger("hub.intake")

Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]

_ACK: Final = "ack"
_NACK: Final = "nack"  # back to the queue
_REJECT: Final = "reject"  # to the queue's dead-letter exchange


@dataclass(frozen=True)
class WorkQueue:
    """A queue the hub consumes, and what it does with each message."""

    name: str
    handle: Handler
    about: str = ""  # what the queue carries, for the AsyncAPI document
    # The queue's topology arguments: declared with them (so aio-pika can declare it again after
    # a deletion); without them, passively.
    arguments: Mapping[str, Any] = field(default_factory=dict)


def settlement_frames(
    open_tags: set[int], acks: Sequence[int], registered: int
) -> tuple[int | None, list[int]]:
    """Which acks to send for `acks`, given every tag of the channel not yet settled (`open_tags`,
    `acks` included) and `registered`, the highest tag up to which every tag was handed to a
    handler: the tag of one `multiple` ack covering every acked tag below the lowest one still
    open (and not above `registered`), or None; and the tags to ack one by one (pure)."""
    ready = set(acks)
    pending = open_tags - ready
    ceiling = min(pending) if pending else registered + 1
    below = [t for t in ready if t < ceiling and t <= registered]
    single = sorted(ready.difference(below))
    return (max(below) if below else None), single


class Settlements:
    """The settlements of one AMQP channel, sent together at the end of each loop turn.

    A `multiple` ack covers only tags below the lowest one still being handled and not above the
    highest up to which every tag was registered (`received`), so it never settles a delivery
    that is in hand or that no handler saw.
    """

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self._open: set[int] = set()
        # Tags on a channel with one consumer are 1, 2, 3...: `_registered` is the highest one up
        # to which every tag reached `received`, `_ahead` the ones registered above a gap. A
        # delivery whose handler never started is never covered by a `multiple` ack.
        self._registered = 0
        self._ahead: set[int] = set()
        self._todo: list[tuple[str, int]] = []
        self._scheduled = False
        self._sending: set[asyncio.Task[None]] = set()
        # One turn's frames are decided and written before the next turn's: a write can wait (the
        # connection's frame buffer is bounded), and a later `multiple` ack decided meanwhile
        # would cover a tag whose own ack is still to be written (the broker closes the channel
        # on an ack of an unknown tag; found by the outage benchmark).
        self._turn = asyncio.Lock()

    def received(self, tag: int) -> None:
        """A delivery with this tag is being handled."""
        self._open.add(tag)
        self._ahead.add(tag)
        while self._registered + 1 in self._ahead:
            self._registered += 1
            self._ahead.discard(self._registered)

    def settle(self, tag: int, how: str) -> None:
        """Settle `tag` (ack, nack or reject) with the others of this loop turn."""
        self._todo.append((how, tag))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        todo, self._todo = self._todo, []
        if todo:
            task = asyncio.ensure_future(self._send(todo))
            self._sending.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and (e := task.exception()) is not None:
            # the channel closed under its deliveries: the broker redelivers them (inbox dedups)
            log.warning("intake.settle_failed", error=type(e).__name__)

    async def drain(self) -> None:
        """Send what is waiting for the end of this turn now, and wait until it is written."""
        self._flush()
        await asyncio.gather(*self._sending, return_exceptions=True)

    async def _send(self, todo: list[tuple[str, int]]) -> None:
        async with self._turn:
            channel = self.channel
            acks = [tag for how, tag in todo if how == _ACK]
            for how, tag in todo:  # nacks and rejects go first: a later `multiple` ack skips them
                if how != _ACK:
                    self._open.discard(tag)
                    await channel.basic_nack(tag, requeue=how == _NACK, wait=False)
            multiple, single = settlement_frames(self._open, acks, self._registered)
            self._open.difference_update(acks)
            if multiple is not None:
                await channel.basic_ack(multiple, multiple=True, wait=False)
            for tag in single:
                await channel.basic_ack(tag, wait=False)


class Intake:
    """Consumes the work queues until `stop`; see the module docstring."""

    def __init__(
        self,
        prefetch: int,
        graceful_timeout_s: float = 10.0,
        *,
        flow: BrokerFlow | None = None,
        on_cancel: Callable[[str], None] | None = None,
    ) -> None:
        self._prefetch = prefetch
        self._graceful = graceful_timeout_s
        self._flow = flow or BrokerFlow()
        self._on_cancel = on_cancel
        self._stopping = asyncio.Event()
        self._channels: list[AbstractRobustChannel] = []
        self._consumers: list[tuple[AbstractRobustQueue, str]] = []
        self._settlements: dict[int, Settlements] = {}  # by id() of the AMQP channel
        self._handling: set[asyncio.Task[Any]] = set()

    async def start(
        self, connection: aio_pika.abc.AbstractRobustConnection, work: Sequence[WorkQueue]
    ) -> None:
        """Consume every queue of `work`, each on a channel of its own."""
        for w in work:
            channel = await connection.channel()
            assert isinstance(channel, AbstractRobustChannel)
            await channel.set_qos(prefetch_count=self._prefetch)
            if w.arguments:
                queue = await channel.declare_queue(
                    w.name, durable=True, arguments=dict(w.arguments)
                )
            else:
                queue = await channel.declare_queue(w.name, passive=True)
            assert isinstance(queue, AbstractRobustQueue)
            tag = await queue.consume(self._on_message(w))
            self._channels.append(channel)
            self._consumers.append((queue, tag))
            await self._watch_cancels(channel, w.name)

    async def _watch_cancels(self, channel: AbstractRobustChannel, queue: str) -> None:
        """Have the broker's cancellation of this channel's consumer reported, now and on every
        channel aio-pika opens in its place after a reconnect."""

        def cancelled(frame: Any) -> None:
            log.error("intake.consumer_cancelled", queue=queue, tag=frame.consumer_tag)
            if self._on_cancel is not None:
                self._on_cancel(queue)

        async def register(*_: Any) -> None:
            underlay = await channel.get_underlay_channel()
            underlay.on_consumer_cancel_callbacks.add(cancelled)

        await register()
        channel.reopen_callbacks.add(register)

    def _on_message(self, w: WorkQueue) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def on_message(message: AbstractIncomingMessage) -> None:
            tag = message.delivery_tag
            assert tag is not None  # consumed with acks on
            settlements = self._of(message.channel)
            settlements.received(tag)
            task = asyncio.current_task()
            if task is not None:
                self._handling.add(task)
            try:
                if self._flow.blocked and not await self._held_until_open():
                    settlements.settle(tag, _NACK)  # stopping while blocked: it comes back
                    return
                await w.handle(message)
            except asyncio.CancelledError:
                settlements.settle(tag, _NACK)  # back to the queue, and no tag left in hand
                raise
            except Requeue:
                how = _NACK
            except Exception as e:  # a bug: the queue's dead-letter exchange takes the message
                log.error("intake.handler_failed", queue=w.name, error=repr(e))
                how = _REJECT
            else:
                how = _ACK
            finally:
                if task is not None:
                    self._handling.discard(task)
            settlements.settle(tag, how)

        return on_message

    async def _held_until_open(self) -> bool:
        """Wait while the broker blocks the connection (a resource alarm); False if the intake is
        stopped meanwhile (the delivery is then not handled)."""
        opened = asyncio.ensure_future(self._flow.wait_open())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({opened, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (opened, stopping):
                waiter.cancel()
        return not self._stopping.is_set()

    def _of(self, channel: Any) -> Settlements:
        found = self._settlements.get(id(channel))
        if found is None or found.channel is not channel:
            # a new AMQP channel (a reconnect): forget the closed ones and their tags
            for key, s in list(self._settlements.items()):
                if s.channel.is_closed:
                    del self._settlements[key]
            found = self._settlements[id(channel)] = Settlements(channel)
        return found

    async def flush(self) -> None:
        """Send the settlements waiting for the end of this loop turn now, and the broker has them
        once this returns: a round trip on each channel follows them (frames are taken in order)."""
        for settlements in list(self._settlements.values()):
            await settlements.drain()
        for channel in self._channels:
            await channel.set_qos(prefetch_count=self._prefetch)

    async def stop(self) -> None:
        """Stop taking messages, let those being handled finish (bounded), close the channels."""
        self._stopping.set()  # deliveries held by a resource alarm are given back, not handled
        cancels = [queue.cancel(tag) for queue, tag in self._consumers]
        with contextlib.suppress(Exception):  # a broker that does not answer: go on, bounded
            async with asyncio.timeout(5):
                await asyncio.gather(*cancels, return_exceptions=True)
        self._consumers.clear()
        if self._handling:
            await asyncio.wait(list(self._handling), timeout=self._graceful)
        with contextlib.suppress(Exception):  # a broker gone: what is unsettled comes back
            async with asyncio.timeout(5):
                await self.flush()
        with contextlib.suppress(TimeoutError):  # together, under one deadline
            async with asyncio.timeout(5):
                await asyncio.gather(*(c.close() for c in self._channels), return_exceptions=True)
        self._channels.clear()
        self._settlements.clear()
