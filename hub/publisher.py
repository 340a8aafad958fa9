"""Publishing with confirms and `mandatory`: a message is sent only when the broker says so.

A return (unroutable), a nack, a timeout or a lost channel all become `PublishFailed`, which the
caller sees. Many messages are published concurrently so their confirms are pipelined, not waited
one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import aiormq
from faststream.rabbit import RabbitBroker

from hub.errors import PublishFailed
from hub.outgoing import Outgoing

__all__ = ["Outgoing", "Publisher", "RabbitPublisher"]


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
        try:
            frame = await asyncio.wait_for(self._send(message), self._timeout)
        except PublishFailed:
            raise
        except Exception as e:  # aiormq, aio-pika and timeout errors are translated here, once
            raise PublishFailed(f"{message.routing_key or message.exchange}: {e!r}") from e
        if isinstance(frame, aiormq.spec.Basic.Nack):
            raise PublishFailed(f"broker nacked {message.message_id} to {message.routing_key}")

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[PublishFailed | None]:
        """Publish all, confirms pipelined; return one failure-or-None per message, in order."""
        results = await asyncio.gather(*(self.publish(m) for m in messages), return_exceptions=True)
        out: list[PublishFailed | None] = []
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, PublishFailed):
                r = PublishFailed(repr(r))
            out.append(r)
        return out

    async def _send(self, m: Outgoing) -> Any:
        return await self._broker.publish(
            m.body,
            exchange=m.exchange or None,
            routing_key=m.routing_key,
            mandatory=True,
            persist=True,
            message_id=m.message_id,
            correlation_id=m.correlation_id or None,
            headers=dict(m.headers),
            content_type="application/json",
            message_type=m.kind or None,
        )
