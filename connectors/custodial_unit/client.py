"""The unit's side of the AMQP contract, as a prison system would write it (aio-pika, its own user):
consume `hub.custodial_unit.<unit>.out`, acknowledge after handling, publish answers to the unit's
own exchange `hub.custodial_unit.<unit>.in` with publisher confirms and the `user_id` property set
to the login. Either proves who sent it (`hub.domain.sender`): only this unit's user may write that
exchange, and RabbitMQ refuses a user_id other than the login. The simulator is built on it;
integrators can read it as a reference client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika

from contracts import Envelope, parse_envelope
from hub.domain.topology import unit_exchange, unit_queue

__all__ = ["UnitClient", "login_of"]

Handler = Callable[[Envelope], Awaitable[None]]


def login_of(url: str) -> str:
    """The RabbitMQ user an AMQP URL logs in as (aio-pika's default is guest)."""
    return unquote(urlsplit(url).username or "guest")


class UnitClient:
    """One unit's connection: read its queue, answer the hub."""

    def __init__(self, url: str, unit: str, prefetch: int = 32) -> None:
        self.url = url
        self.unit = unit
        self.user_id = login_of(url)
        self._prefetch = prefetch
        self._conn: aio_pika.abc.AbstractRobustConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def start(self, handle: Handler) -> None:
        """Connect and consume; a message is acked after `handle` returns, nacked if it raises."""
        self._conn = await aio_pika.connect_robust(
            self.url, client_properties={"connection_name": f"unit:{self.unit}"}
        )
        channel = await self._conn.channel(publisher_confirms=True, on_return_raises=True)
        await channel.set_qos(prefetch_count=self._prefetch)
        self._exchange = await channel.get_exchange(unit_exchange(self.unit), ensure=False)
        # Declared (passively), not taken with `get_queue(ensure=False)`: aio-pika's robust channel
        # restores the consumers of the queues it declared, and only those; with `get_queue` the
        # connection comes back after a broker restart but the unit never consumes again (found by
        # the fault suite).
        queue = await channel.declare_queue(unit_queue(self.unit), passive=True)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process(requeue=True):
                await handle(parse_envelope(message.body))

        await queue.consume(on_message)

    async def answer(self, env: Envelope, headers: dict[str, Any] | None = None) -> None:
        """Publish an answer to the hub (with `headers`, if any) and wait for the confirm."""
        assert self._exchange is not None, "start() first"
        await self._exchange.publish(
            aio_pika.Message(
                env.to_bytes(),
                message_id=str(env.message_id),
                correlation_id=env.correlation_id,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                type=env.kind,
                user_id=self.user_id,
                headers=headers,
            ),
            routing_key="",
        )

    async def stop(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.close()
