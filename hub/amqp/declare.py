"""The broker side of start-up: a FastStream `RabbitBroker` with confirms and returns on.

The topology from `hub.domain.topology` is declared idempotently: declaring what exists with
the same arguments is a no-op.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from faststream.security import BaseSecurity

from hub.amqp.coalesce import CoalescingConnection
from hub.settings import RabbitSettings, TlsSettings

if TYPE_CHECKING:
    from faststream.rabbit.schemas.queue import QuorumQueueArgs
from hub.domain.topology import Queue, Topology

__all__ = ["declare", "make_broker", "rabbit_queue"]


def make_broker(
    settings: RabbitSettings, *, tls: TlsSettings | None = None, logger: Any = None
) -> RabbitBroker:
    """A broker whose channels confirm every publish and raise on returned (unroutable) messages,
    and whose connection writes the frames of one loop turn at once (`hub.amqp.coalesce`).

    An `amqps://` URL connects over TLS with the context `tls` makes (its CAs, the hub's client
    certificate): FastStream hands a `BaseSecurity`'s context to `aio_pika.connect_robust`, which
    keeps it for every reconnection.

    Without FastDepends (`apply_types=False`): every hub handler takes the whole message (see
    `hub.app.whole_message`), so there is nothing to inject, and FastDepends resolves a
    `message: RabbitMessage` parameter through a synchronous `Context.use` that it runs in a worker
    thread, for every message: 17 % of a hop's CPU in the profile (`bench/README.md`).
    """
    security = None
    if tls is not None and urlsplit(settings.url).scheme == "amqps":
        security = BaseSecurity(ssl_context=tls.client_context())
    broker = RabbitBroker(
        settings.url,
        security=security,
        default_channel=Channel(prefetch_count=settings.prefetch, on_return_raises=True),
        logger=logger,
        graceful_timeout=10.0,
        apply_types=False,
        reconnect_interval=settings.reconnect_interval_s,
    )
    # FastStream has no argument for it; these are what it passes to `aio_pika.connect_robust`.
    broker._connection_kwargs["connection_class"] = CoalescingConnection
    return broker


def rabbit_queue(queue: Queue) -> RabbitQueue:
    """The FastStream description of a topology queue (same name, same arguments)."""
    args = {k: v for k, v in queue.arguments.items() if k != "x-queue-type"}
    return RabbitQueue(
        queue.name,
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments=cast("QuorumQueueArgs", args),
    )


async def declare(broker: RabbitBroker, topology: Topology) -> None:
    """Declare every exchange, queue and binding of `topology` on a connected broker."""
    exchanges = {}
    for e in topology.exchanges:
        exchanges[e.name] = await broker.declare_exchange(
            RabbitExchange(e.name, type=ExchangeType(e.type), durable=True)
        )
    queues = {q.name: await broker.declare_queue(rabbit_queue(q)) for q in topology.queues}
    for b in topology.bindings:
        await queues[b.destination].bind(
            exchanges[b.source], routing_key=b.routing_key, arguments=b.arguments or None
        )
