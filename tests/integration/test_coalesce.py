"""The hub's broker connection coalesces its writes (`hub.amqp.coalesce`); no other connection of
the process does."""

from __future__ import annotations

import uuid

import aiormq
import pytest

from hub.amqp.coalesce import CoalescingTransport
from hub.app import Hub
from hub.domain.outgoing import Outgoing
from hub.settings import HubSettings

QUEUE = "coalesce-probe"


async def test_only_the_hubs_connection_coalesces(
    settings: HubSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames of the started hub's connection go through one `CoalescingTransport`; another aiormq
    connection in the same process (an external system's) writes to its socket as aiormq does."""
    flushed: list[CoalescingTransport] = []
    real_flush = CoalescingTransport.flush

    def spy(self: CoalescingTransport) -> None:
        flushed.append(self)
        real_flush(self)

    monkeypatch.setattr(CoalescingTransport, "flush", spy)
    async with Hub(settings, specs=(), background=False) as hub:
        hubs = {id(t) for t in flushed}
        assert len(hubs) == 1, "the hub's start wrote through one coalescing transport"

        flushed.clear()
        other = await aiormq.connect(settings.rabbit.url)
        try:
            channel = await other.channel()
            await channel.queue_declare(QUEUE, durable=True)
            await channel.basic_publish(b"{}", routing_key=QUEUE)
        finally:
            await other.close()
        assert flushed == [], "another connection of the process coalesced"

        await hub.publisher.publish(
            Outgoing(
                exchange="",
                routing_key=QUEUE,
                body=b"{}",
                message_id=str(uuid.uuid4()),
                correlation_id="c",
                kind="test",
            )
        )
        assert flushed
        assert {id(t) for t in flushed} == hubs
