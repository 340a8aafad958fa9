"""Publishing never loses silently: the broker's return or nack reaches the caller."""

from __future__ import annotations

import uuid

import pytest

from hub.broker import make_broker
from hub.errors import PublishFailed
from hub.outgoing import Outgoing
from hub.publisher import RabbitPublisher
from hub.settings import HubSettings

from .harness import amqp


def _msg(routing_key: str, exchange: str = "") -> Outgoing:
    return Outgoing(exchange, routing_key, b"{}", str(uuid.uuid4()), "c", {}, "test")


async def test_unroutable_publish_raises(settings: HubSettings) -> None:
    """A mandatory publish that no queue takes is returned by the broker and raises."""
    broker = make_broker(settings.rabbit)
    await broker.connect()
    try:
        with pytest.raises(PublishFailed, match="NO_ROUTE"):
            await RabbitPublisher(broker).publish(_msg("no.such.queue"))
    finally:
        await broker.stop()


async def test_broker_nack_raises(settings: HubSettings) -> None:
    """A publish the broker refuses (a full queue with reject-publish) is nacked and raises."""
    async with amqp(settings) as ch:
        await ch.declare_queue(
            "full", durable=True, arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
        )
    broker = make_broker(settings.rabbit)
    await broker.connect()
    try:
        with pytest.raises(PublishFailed):
            await RabbitPublisher(broker).publish(_msg("full"))
    finally:
        await broker.stop()


async def test_publish_many_reports_each_failure_in_order(settings: HubSettings) -> None:
    """A batch with one unroutable message fails that one only; the others are confirmed."""
    async with amqp(settings) as ch:
        await ch.declare_queue("ok", durable=True)
    broker = make_broker(settings.rabbit)
    await broker.connect()
    try:
        results = await RabbitPublisher(broker).publish_many(
            [_msg("ok"), _msg("missing"), _msg("ok")]
        )
    finally:
        await broker.stop()
    assert [r is None for r in results] == [True, False, True]
