"""The intake on the real broker: acks sent together never cover a message still being handled;
`Requeue` puts a message back; a handler's bug rejects it to the dead-letter exchange."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from hub.amqp.intake import Intake, WorkQueue
from hub.errors import Requeue
from hub.settings import HubSettings
from tests.integration.harness import amqp, drain, wait_for

_QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}


async def test_settlements(settings: HubSettings) -> None:
    """40 messages: #0 is held while the rest finish, #1 is requeued once, #2 raises. When the
    intake's connection is then cut, only #0 comes back: every other message was acked (no
    `multiple` ack covered #0), #1 was handled twice, #2 is in the dead-letter queue."""
    async with amqp(settings) as ch:
        await ch.declare_queue("work.dead", durable=True, arguments=_QUORUM)
        dead_letters: dict[str, Any] = {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "work.dead",
        }
        await ch.declare_queue("work", durable=True, arguments={**_QUORUM, **dead_letters})
        for i in range(40):
            await ch.default_exchange.publish(aio_pika.Message(str(i).encode()), "work")

        release = asyncio.Event()
        seen: Counter[int] = Counter()

        async def handle(message: AbstractIncomingMessage) -> None:
            n = int(message.body)
            seen[n] += 1
            if n == 0:
                await release.wait()
            if n == 1 and seen[n] == 1:
                raise Requeue("work")
            if n == 2:
                raise RuntimeError("a bug")

        async def all_handled() -> bool:
            return len(seen) == 40 and sum(seen.values()) == 41

        conn = await aio_pika.connect_robust(settings.rabbit.url)
        intake = Intake(prefetch=64)
        try:
            await intake.start(conn, [WorkQueue("work", handle)])
            await wait_for(all_handled, what="every message handled, #1 twice, #0 held")
            await intake.flush()  # the broker has every settlement made so far
        finally:
            await conn.close()  # cut: what is not acked goes back to the queue
            release.set()
        back = [int(m.body) for m in await drain(ch, "work")]
        assert back == [0], f"only #0 was unacknowledged, came back: {back}"
        assert [m.body for m in await drain(ch, "work.dead")] == [b"2"]
        assert seen[1] == 2


async def test_stop_lets_handlers_finish(settings: HubSettings) -> None:
    """`stop` cancels the consumer, waits for the message being handled, and acks it."""
    async with amqp(settings) as ch:
        await ch.declare_queue("work", durable=True, arguments=_QUORUM)
        await ch.default_exchange.publish(aio_pika.Message(b"x"), "work")
        started, release = asyncio.Event(), asyncio.Event()

        async def handle(message: AbstractIncomingMessage) -> None:
            started.set()
            await release.wait()

        conn = await aio_pika.connect_robust(settings.rabbit.url)
        intake = Intake(prefetch=8)
        try:
            await intake.start(conn, [WorkQueue("work", handle)])
            await asyncio.wait_for(started.wait(), 30)
            stopping = asyncio.create_task(intake.stop())
            release.set()
            await asyncio.wait_for(stopping, 30)
        finally:
            await conn.close()
        assert await drain(ch, "work") == []


async def test_a_cancelled_handler_puts_its_message_back(settings: HubSettings) -> None:
    """A handler cancelled in the middle (a shutdown) nacks its message back: it comes again."""
    async with amqp(settings) as ch:
        await ch.declare_queue("work", durable=True, arguments=_QUORUM)
        await ch.default_exchange.publish(aio_pika.Message(b"x"), "work")
        calls: list[asyncio.Task[Any] | None] = []
        first, again = asyncio.Event(), asyncio.Event()

        async def handle(message: AbstractIncomingMessage) -> None:
            calls.append(asyncio.current_task())
            if len(calls) == 1:
                first.set()
                await asyncio.Event().wait()  # held until cancelled
            again.set()

        conn = await aio_pika.connect_robust(settings.rabbit.url)
        intake = Intake(prefetch=8)
        try:
            await intake.start(conn, [WorkQueue("work", handle)])
            await asyncio.wait_for(first.wait(), 30)
            held = calls[0]
            assert held is not None
            held.cancel()
            await asyncio.wait_for(again.wait(), 30)
            await intake.flush()
        finally:
            await intake.stop()
            await conn.close()
        assert len(calls) == 2
        assert await drain(ch, "work") == []
