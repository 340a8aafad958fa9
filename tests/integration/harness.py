"""Helpers for tests on the real broker and database: wait on conditions, publish and peek raw."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aio_pika
import asyncpg

from contracts import Envelope
from hub.domain.outgoing import Outgoing
from hub.errors import PublishFailed
from hub.settings import HubSettings
from hub.store import connect
from tests.factories import COURT_SIGNER

_POLL_S = 30.0  # one poll that takes longer than this fails the wait (a service stopped answering)


async def wait_for(
    condition: Callable[[], Awaitable[Any]],
    *,
    within: float = 30.0,
    every: float = 0.05,
    what: str = "condition",
    detail: Callable[[], Awaitable[object]] | None = None,
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `within` seconds, saying
    what was awaited and, from `detail`, where things stood. Each poll is bounded too."""
    deadline = time.monotonic() + within
    while True:
        result = await _bounded(condition, what)
        if result:
            return result
        if time.monotonic() > deadline:
            where = f": {await _bounded(detail, what)}" if detail is not None else ""
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}{where}")
        await asyncio.sleep(every)


async def _bounded(poll: Callable[[], Awaitable[Any]], what: str) -> Any:
    try:
        return await asyncio.wait_for(poll(), _POLL_S)
    except TimeoutError:
        raise AssertionError(f"no answer in {_POLL_S:.0f} s from a poll for {what}") from None


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        """Move time forward."""
        self.now += timedelta(**kw)


@asynccontextmanager
async def amqp(settings: HubSettings) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A plain aio-pika channel on the test vhost, as an external system would have."""
    conn = await aio_pika.connect(settings.rabbit.url)
    try:
        yield await conn.channel(publisher_confirms=True, on_return_raises=True)
    finally:
        await conn.close()


async def send(
    channel: aio_pika.abc.AbstractChannel, exchange: str, env: Envelope | bytes, **props: Any
) -> None:
    """Publish an envelope (or raw bytes) to an exchange, as an external system does: to
    `hub.court.in` signed by the tests' court system unless the test gives its own `headers`
    (an unsigned or forged document is a test's deliberate choice)."""
    body = env if isinstance(env, bytes) else env.to_bytes()
    if exchange == "hub.court.in" and props.get("headers") is None:
        props["headers"] = COURT_SIGNER.headers(body)
    ex = await channel.get_exchange(exchange)
    message_id = None if isinstance(env, bytes) else str(env.message_id)
    await ex.publish(
        aio_pika.Message(
            body, message_id=message_id, content_type="application/json", delivery_mode=2, **props
        ),
        routing_key="",
    )


async def drain(
    channel: aio_pika.abc.AbstractChannel, queue: str
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take (and ack) every message now in `queue`."""
    q = await channel.declare_queue(queue, passive=True)
    out = []
    while (m := await q.get(fail=False)) is not None:
        await m.ack()
        out.append(m)
    return out


async def depth(channel: aio_pika.abc.AbstractChannel, queue: str) -> int:
    """How many messages are ready in `queue`."""
    q = await channel.declare_queue(queue, passive=True)
    return int(q.declaration_result.message_count or 0)


@asynccontextmanager
async def database(settings: HubSettings) -> AsyncIterator[asyncpg.Connection[Any]]:
    """A connection in the test's schema."""
    conn = await connect(settings.postgres)
    try:
        yield conn
    finally:
        await conn.close()


async def kill_connections(settings: HubSettings) -> int:
    """Have the broker close every client connection on the test vhost (as a crash would look)."""
    from tests.conftest import _mgmt

    vhost = unquote(urlsplit(settings.rabbit.url).path.lstrip("/")) or "/"
    async with _mgmt() as api:
        conns = (await api.get(f"/vhosts/{quote(vhost, safe='')}/connections")).json()
        for c in conns:
            await api.delete(
                f"/connections/{quote(c['name'], safe='')}",
                headers={"X-Reason": "test: simulated crash"},
            )
    return len(conns)


class ConfirmingPublisher:
    """A publisher whose broker confirms everything at once (an engine's, in store tests)."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[PublishFailed | None]:
        self.sent += messages
        return [None] * len(messages)

    async def publish(self, message: Outgoing) -> None:
        self.sent.append(message)
