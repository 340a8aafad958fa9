"""Publishing never loses silently: the broker's return or nack reaches the caller."""

from __future__ import annotations

import uuid

import pytest

from hub.amqp.declare import make_broker
from hub.amqp.publisher import RabbitPublisher
from hub.domain.outgoing import Outgoing
from hub.errors import PublishFailed
from hub.settings import HubSettings

from .harness import amqp, drain


def _msg(routing_key: str, exchange: str = "") -> Outgoing:
    return Outgoing(
        exchange=exchange,
        routing_key=routing_key,
        body=b"{}",
        message_id=str(uuid.uuid4()),
        correlation_id="c",
        kind="test",
    )


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


def _m(cc: tuple[str, ...] = ()) -> Outgoing:
    """A message for queue `a` that carried a CC header in (never to be published again)."""
    return Outgoing(
        exchange="",
        routing_key="a",
        body=b"{}",
        message_id=str(uuid.uuid4()),
        correlation_id="c",
        headers={"CC": ["elsewhere"]},
        kind="t",
        cc=cc,
    )


async def test_one_publish_reaches_every_queue_of_its_set(settings: HubSettings) -> None:
    """A message with `cc` is published once and lands in each queue named; the `BCC` header it
    was routed by is not delivered; a CC header it carried in is not published."""
    async with amqp(settings) as ch:
        for name in ("a", "b", "c", "elsewhere"):
            await ch.declare_queue(name, durable=True)
    broker = make_broker(settings.rabbit)
    await broker.connect()
    try:
        m = _m(cc=("b", "c"))
        await RabbitPublisher(broker).publish(m)
        alone = _m()
        await RabbitPublisher(broker).publish(alone)
    finally:
        await broker.stop()
    async with amqp(settings) as ch:
        delivered = {name: await drain(ch, name) for name in ("a", "b", "c")}
        got = {name: [x.message_id for x in ms] for name, ms in delivered.items()}
        assert not any({"CC", "BCC"} & set(x.headers) for ms in delivered.values() for x in ms)
        assert await drain(ch, "elsewhere") == []
    assert got == {"a": [m.message_id, alone.message_id], "b": [m.message_id], "c": [m.message_id]}
