"""The hub stops within a bound when the broker is gone: refusing connections, or not answering."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from hub.app import Hub
from hub.settings import HubSettings
from tests.balancer import Balancer
from tests.factories import make_envelope, make_warrant

from .harness import amqp, database, send, wait_for

# The intake's deadlines (cancelling its consumers 5 s, handlers finishing 10 s, its last acks 5 s,
# closing its channels 5 s), and room for the rest.
BOUND_S = 30


@pytest.mark.parametrize("gone", ["refusing", "silent"])
async def test_stop_is_bounded_when_the_broker_is_gone(settings: HubSettings, gone: str) -> None:
    parts = urlsplit(settings.rabbit.url)
    balancer = Balancer([parts.port or 5672])
    port = await balancer.start()
    url = urlunsplit(parts._replace(netloc=f"{parts.netloc.rsplit(':', 1)[0]}:{port}"))
    hub = Hub(
        settings.model_copy(update={"rabbit": settings.rabbit.model_copy(update={"url": url})}),
        background=True,  # every connector's queues, the relay, the drainers, the ledger
    )
    await hub.start()
    try:
        async with amqp(settings) as channel:  # traffic first, on the broker itself
            await send(channel, "hub.court.in", make_envelope(make_warrant()))

        async def settled() -> bool:  # signed by the tests' court: recorded
            async with database(settings) as db:
                return bool(await db.fetchval("SELECT count(*) FROM warrants") > 0)

        await wait_for(settled, what="the message settled")
        if gone == "refusing":
            await balancer.stop()
        else:
            balancer.silence()
        started = time.monotonic()
        async with asyncio.timeout(BOUND_S + 30):  # a backstop, to fail rather than hang
            await hub.stop()
        took = time.monotonic() - started
        assert took < BOUND_S
    finally:
        await balancer.stop()
