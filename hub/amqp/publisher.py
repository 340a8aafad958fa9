"""Publishing with confirms and `mandatory`: a message is sent only when the broker says so.

A return (unroutable), a nack, a timeout or a lost channel all become `PublishFailed`, which the
caller sees. Many messages are published concurrently so their confirms are pipelined, not waited
one by one.

Messages go straight to an AMQP channel of the publisher's own on the broker's connection (with
confirms and `on_return_raises`), as `basic.publish` frames: the body is already bytes, so
FastStream's per-message encoding, exchange lookup and message object are work the hot path does
not need (about a third of a hop's publishing CPU, `bench/README.md`). The guarantees are the
channel's: the broker's confirm is awaited for each message, and a return raises.

A message for several queues is published once, with the others in its `BCC` header (RabbitMQ's
sender-selected distribution; the broker removes `BCC` before delivery, so no receiver sees where
else the message went): one publish, one confirm. `mandatory` then returns it only when it reached
no queue at all, so every queue the hub routes to is one the hub declared at start-up
(`hub.domain.topology`; units outside it are refused as `unknown_unit` before routing). A `CC` or
`BCC` header a consumed message carried is never published again: a retry, dead letter or replay
goes to its one queue.

After a nack the next publishes go on a fresh channel (at most one a second). RabbitMQ 3.10 nacks,
for the channel's whole life, every publish to a quorum queue whose first publish on that channel
came while the queue's leader node was down: the channel never learns the new leader
(`rabbit_fifo_client:enqueue/3`, `{badrpc, nodedown}`). Found by `tests/cluster` (a node killed
under load); a fresh channel is acked at once.

While the broker blocks the hub's connection (a resource alarm, `hub.amqp.flow`), a publish waits
for the unblocking before it is sent, and a confirm awaited across a blocked spell is given its
full timeout again once the connection is unblocked: a blocked broker reads nothing, so a confirm
cannot come, and timing it out would only send the message round the retry ladder.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeVar, cast

import aio_pika
import aiormq
from faststream.rabbit import RabbitBroker, RabbitExchange

from hub.amqp.flow import BrokerFlow
from hub.domain.outgoing import DISTRIBUTION_HEADERS, Outgoing
from hub.errors import PublishFailed

__all__ = ["APP_ID", "Outgoing", "Publisher", "RabbitPublisher"]

APP_ID: Final = "court-prison-hub"
_PERSISTENT: Final = 2
_DEFAULT_EXCHANGE: Final = RabbitExchange("")
_RECYCLE_AFTER_S: Final = 1.0  # a channel that saw a nack is replaced once it is this old
T = TypeVar("T")


class Publisher(Protocol):
    """Anything that publishes a batch and reports, per message, the failure or None."""

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[PublishFailed | None]:
        """Publish all, confirms pipelined; return one failure-or-None per message, in order."""
        ...

    async def publish(self, message: Outgoing) -> None:
        """Publish one message and wait for its confirm; raise `PublishFailed` if not confirmed."""
        ...


class RabbitPublisher:
    """`Publisher` over a connected FastStream `RabbitBroker` with confirms and returns on."""

    def __init__(
        self, broker: RabbitBroker, timeout_s: float = 10.0, *, flow: BrokerFlow | None = None
    ) -> None:
        self._broker = broker
        self._timeout = timeout_s
        self._flow = flow or BrokerFlow()
        # the publishing channel, the connection it is on, when it was opened; a nack seen since
        self._own: tuple[object, aio_pika.abc.AbstractChannel, float] | None = None
        self._nacked = False
        self._opening = asyncio.Lock()
        self._login: str | None = None  # the connection's user: every message's `user_id`

    async def publish(self, message: Outgoing) -> None:
        """Publish one message and wait for its confirm; raise `PublishFailed` if not confirmed."""
        await self._flow.wait_open()
        channel = await self._channel()
        try:
            await self._within_timeout(self._confirmed(channel, message))
        except TimeoutError as e:
            raise PublishFailed(f"no confirm within {self._timeout} s: {e!r}") from e

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[PublishFailed | None]:
        """Publish all, confirms pipelined; return one failure-or-None per message, in order."""
        await self._flow.wait_open()
        try:
            channel = await self._channel()
        except PublishFailed as e:
            return [e] * len(messages)
        # One deadline for the batch, not a timer per message (a timer each was 2 % of a hop).
        try:
            results = await self._within_timeout(
                asyncio.gather(
                    *(self._confirmed(channel, m) for m in messages), return_exceptions=True
                )
            )
        except TimeoutError as e:
            return [PublishFailed(f"no confirm within {self._timeout} s: {e!r}")] * len(messages)
        out: list[PublishFailed | None] = []
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, PublishFailed):
                r = PublishFailed(repr(r))
            out.append(r)
        return out

    async def _within_timeout(self, confirms: Awaitable[T]) -> T:
        """Await `confirms` within the timeout, counted afresh after any spell in which the broker
        blocked the connection (it read nothing then: no confirm could come); cancel it and raise
        `TimeoutError` when the timeout passes with the connection open throughout."""
        task = asyncio.ensure_future(confirms)
        try:
            while True:
                started = time.monotonic()
                done, _ = await asyncio.wait({task}, timeout=self._timeout)
                if done:
                    return task.result()
                if not self._flow.blocked_after(started):
                    raise TimeoutError(f"no confirm in {self._timeout} s")
                await self._flow.wait_open()
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _channel(self) -> aiormq.Channel:
        """The AMQP channel under the publisher's own channel (the robust connection restores it
        after a reconnect; it changes then), replaced after a nack (see the module's notes)."""
        try:
            await self._broker.declare_exchange(_DEFAULT_EXCHANGE)  # raises when not connected
            connection = await self._broker.connect()  # connected: the broker's connection
            own = self._own
            if own is None or own[0] is not connection or self._recycle_due(own[2]):
                own = await self._open(connection)
            return cast("aiormq.Channel", await own[1].get_underlay_channel())
        except Exception as e:  # not connected, or reconnecting
            raise PublishFailed(f"no channel to publish on: {e!r}") from e

    def _recycle_due(self, opened_at: float) -> bool:
        return self._nacked and time.monotonic() - opened_at >= _RECYCLE_AFTER_S

    async def _open(self, connection: Any) -> tuple[object, aio_pika.abc.AbstractChannel, float]:
        """Open a fresh publishing channel on `connection`; close the one it replaces."""
        async with self._opening:
            own = self._own
            if own is not None and own[0] is connection and not self._recycle_due(own[2]):
                return own  # another task has just opened it
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            self._login = connection.url.user or "guest"
            new = (connection, channel, time.monotonic())
            self._own, self._nacked = new, False
        if own is not None:  # its publishes still in flight fail, and are retried
            with contextlib.suppress(Exception):
                await asyncio.wait_for(own[1].close(), 5)
        return new

    async def _confirmed(self, channel: aiormq.Channel, m: Outgoing) -> None:
        """Publish and await the confirm; the caller sets the deadline."""
        try:
            frame = await channel.basic_publish(
                m.body,
                exchange=m.exchange,
                routing_key=m.routing_key,
                properties=_properties(m, self._login),
                mandatory=True,
                wait=False,  # the confirm, awaited below, comes only after the frame was sent
            )
        except Exception as e:  # aiormq and timeout errors are translated here, once
            if isinstance(getattr(e, "frame", None), aiormq.spec.Basic.Nack):
                self._nacked = True
            raise PublishFailed(f"{m.routing_key or m.exchange}: {e!r}") from e
        if not isinstance(frame, aiormq.spec.Basic.Ack):
            self._nacked = True
            raise PublishFailed(
                f"broker did not confirm {m.message_id} to {m.routing_key}: {frame}"
            )


def _properties(m: Outgoing, login: str | None) -> aiormq.spec.Basic.Properties:
    """The AMQP properties of `m`; `user_id` is the hub's login, which RabbitMQ checks: it is what
    tells the hub's own messages from a sender's when they come back (`hub.domain.sender`)."""
    headers: dict[str, Any] = {k: v for k, v in m.headers.items() if k not in DISTRIBUTION_HEADERS}
    if m.cc:
        headers["BCC"] = list(m.cc)
    return aiormq.spec.Basic.Properties(
        content_type="application/json",
        delivery_mode=_PERSISTENT,
        headers=headers,
        message_id=m.message_id,
        correlation_id=m.correlation_id or uuid.uuid4().hex,
        timestamp=datetime.now(UTC),
        message_type=m.kind or None,
        user_id=login,
        app_id=APP_ID,
    )
