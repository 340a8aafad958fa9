"""Publishing with confirms and `mandatory`: a message is sent only when the broker says so.

A return (unroutable), a nack, a timeout or a lost channel all become `PublishFailed`, which the
caller sees. Many messages are published concurrently so their confirms are pipelined, not waited
one by one.

Messages go straight to the AMQP channel under the broker's default channel (the one FastStream
itself publishes on, with confirms and `on_return_raises`), as `basic.publish` frames: the body is
already bytes, so FastStream's per-message encoding, exchange lookup and message object are work
the hot path does not need (about a third of a hop's publishing CPU, `bench/README.md`). The
guarantees are the channel's: the broker's confirm is awaited for each message, and a return raises.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol, cast

import aiormq
from faststream.rabbit import RabbitBroker, RabbitExchange

from hub.errors import PublishFailed
from hub.outgoing import Outgoing

__all__ = ["APP_ID", "Outgoing", "Publisher", "RabbitPublisher"]

APP_ID: Final = "court-prison-hub"
_PERSISTENT: Final = 2
_DEFAULT_EXCHANGE: Final = RabbitExchange("")


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

    def __init__(self, broker: RabbitBroker, timeout_s: float = 10.0) -> None:
        self._broker = broker
        self._timeout = timeout_s

    async def publish(self, message: Outgoing) -> None:
        """Publish one message and wait for its confirm; raise `PublishFailed` if not confirmed."""
        channel = await self._channel()
        try:
            async with asyncio.timeout(self._timeout):
                await self._confirmed(channel, message)
        except TimeoutError as e:
            raise PublishFailed(f"no confirm within {self._timeout} s: {e!r}") from e

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[PublishFailed | None]:
        """Publish all, confirms pipelined; return one failure-or-None per message, in order."""
        try:
            channel = await self._channel()
        except PublishFailed as e:
            return [e] * len(messages)
        # One deadline for the batch, not a timer per message (a timer each was 2 % of a hop).
        try:
            async with asyncio.timeout(self._timeout):
                results = await asyncio.gather(
                    *(self._confirmed(channel, m) for m in messages),
                    return_exceptions=True,
                )
        except TimeoutError as e:
            return [PublishFailed(f"no confirm within {self._timeout} s: {e!r}")] * len(messages)
        out: list[PublishFailed | None] = []
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, PublishFailed):
                r = PublishFailed(repr(r))
            out.append(r)
        return out

    async def _channel(self) -> aiormq.Channel:
        """The AMQP channel under the broker's default channel (it changes after a reconnect)."""
        try:
            exchange = await self._broker.declare_exchange(_DEFAULT_EXCHANGE)
            return cast("aiormq.Channel", await exchange.channel.get_underlay_channel())
        except Exception as e:  # not connected, or reconnecting
            raise PublishFailed(f"no channel to publish on: {e!r}") from e

    async def _confirmed(self, channel: aiormq.Channel, m: Outgoing) -> None:
        """Publish and await the confirm; the caller sets the deadline."""
        try:
            frame = await channel.basic_publish(
                m.body,
                exchange=m.exchange,
                routing_key=m.routing_key,
                properties=_properties(m),
                mandatory=True,
                wait=False,  # the confirm, awaited below, comes only after the frame was sent
            )
        except Exception as e:  # aiormq and timeout errors are translated here, once
            raise PublishFailed(f"{m.routing_key or m.exchange}: {e!r}") from e
        if not isinstance(frame, aiormq.spec.Basic.Ack):
            raise PublishFailed(
                f"broker did not confirm {m.message_id} to {m.routing_key}: {frame}"
            )


def _properties(m: Outgoing) -> aiormq.spec.Basic.Properties:
    headers: dict[str, Any] = dict(m.headers)
    return aiormq.spec.Basic.Properties(
        content_type="application/json",
        delivery_mode=_PERSISTENT,
        headers=headers,
        message_id=m.message_id,
        correlation_id=m.correlation_id or uuid.uuid4().hex,
        timestamp=datetime.now(UTC),
        message_type=m.kind or None,
        app_id=APP_ID,
    )
