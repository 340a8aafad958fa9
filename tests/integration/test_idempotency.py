"""Redeliveries and crashes change state once, and what was committed is published exactly once."""

from __future__ import annotations

from collections import Counter
from typing import Any

from contracts import Envelope
from hub.amqp.declare import declare, make_broker
from hub.amqp.publisher import Publisher
from hub.app import Hub
from hub.domain.outgoing import Outgoing
from hub.domain.topology import build_topology, unit_queue
from hub.errors import PublishFailed
from hub.settings import HubSettings
from tests.factories import UNIT, make_envelope, make_release_order

from .harness import amqp, database, depth, drain, kill_connections, send, wait_for
from .test_delivery import COURT, bnmp, registered


class _CrashAfterCommit:
    """Kills the hub's broker connection at its first post-commit publish (before the ack).

    With `publish_first` the messages do reach the broker before the crash, so the outbox rows stay
    unconfirmed and the relay publishes them a second time.
    """

    def __init__(self, settings: HubSettings, *, publish_first: bool) -> None:
        self.settings = settings
        self.publish_first = publish_first
        self.crashed = False
        self.inner: Publisher

    def __call__(self, inner: Publisher) -> _CrashAfterCommit:
        self.inner = inner
        return self

    async def publish(self, message: Outgoing) -> None:
        await self.inner.publish(message)

    async def publish_many(self, messages: Any) -> list[PublishFailed | None]:
        if self.crashed:
            return await self.inner.publish_many(messages)
        self.crashed = True
        if self.publish_first:
            await self.inner.publish_many(messages)
        await kill_connections(self.settings)
        raise PublishFailed("simulated crash between commit and confirm")


async def _settled(settings: HubSettings) -> bool:
    async with database(settings) as db:
        inbox = await db.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'hub.court.in'")
        pending = await db.fetchval("SELECT count(*) FROM outbox WHERE confirmed_at IS NULL")
        return bool(inbox == 1 and pending == 0)


async def _order_state(settings: HubSettings) -> tuple[int, int, int]:
    async with database(settings) as db:
        version = await db.fetchval("SELECT version FROM release_orders")
        transitions = await db.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'order.transition'"
        )
        # deadline alerts are the scanner's, on its own clock (a slow run crosses more thresholds)
        outbox = await db.fetchval("SELECT count(*) FROM outbox WHERE kind <> 'hub.deadline.alert'")
    return version, transitions, outbox


async def test_redelivered_message_changes_state_once(settings: HubSettings) -> None:
    """The connection dies after commit, before the ack: the inbox drops the redelivery."""
    crash = _CrashAfterCommit(settings, publish_first=False)
    async with Hub(settings, specs=[COURT], wrap_publisher=crash):
        async with amqp(settings) as ch:
            await send(ch, "hub.court.in", make_envelope(make_release_order()))
        await wait_for(lambda: _settled(settings), within=30, what="redelivery and relay")
    assert crash.crashed
    assert await _order_state(settings) == (1, 1, 1)  # one transition; one message for the 3 queues
    async with amqp(settings) as ch:
        for queue in ("hub.bnmp.out", "hub.setarim.out", unit_queue(UNIT)):
            assert len(await drain(ch, queue)) == 1, queue


async def test_crash_between_commit_and_confirm_publishes_exactly_once_downstream(
    settings: HubSettings,
) -> None:
    """Published but not recorded as confirmed: the relay sends again; consumers see one message."""
    crash = _CrashAfterCommit(settings, publish_first=True)
    seen: Counter[str] = Counter()

    async def register(env: Envelope, headers: Any) -> tuple[Envelope, ...]:
        seen[str(env.message_id)] += 1
        return registered(env)

    async with Hub(settings, specs=[COURT, bnmp(register)], wrap_publisher=crash):
        async with amqp(settings) as ch:
            await send(ch, "hub.court.in", make_envelope(make_release_order()))
        await wait_for(lambda: _settled(settings), within=30, what="relay")

        async def registered_once() -> bool:
            async with database(settings) as db:
                return bool(await db.fetchval("SELECT bnmp_id FROM release_orders") == "BNMP-42")

        await wait_for(registered_once, what="registration")
    assert list(seen.values()) == [1]  # two copies reached hub.bnmp.out; BNMP was called once
    async with amqp(settings) as ch:
        copies = await drain(ch, "hub.setarim.out")
    assert len(copies) == 2  # the engine published, then the relay published again
    assert len({m.message_id for m in copies}) == 1  # copies share one id: consumers dedup on it


async def test_copies_in_one_batch_are_processed_once(settings: HubSettings) -> None:
    """Three copies of a message waiting together go through one batch (one transaction of three
    jobs): the first claims the inbox key, the other two are acked as duplicates, nothing twice."""
    env = make_envelope(make_release_order())
    await _declare(settings)
    async with amqp(settings) as ch:
        for _ in range(3):
            await send(ch, "hub.court.in", env)
    assert await depth_of(settings, "hub.court.in") == 3  # all there before the hub consumes
    # A gather window long enough that the three prefetched deliveries surely share a batch.
    gathering = settings.model_copy(
        update={"engine": settings.engine.model_copy(update={"max_wait_ms": 500})}
    )
    async with Hub(gathering, specs=[COURT], background=False) as hub:

        async def consumed() -> bool:
            return bool(await depth_of(settings, "hub.court.in") == 0)

        await wait_for(consumed, what="copies consumed")
        await wait_for(lambda: _settled(settings), what="processed")
        stats = hub.engine.stats
        assert (stats.batches, stats.jobs, stats.isolated) == (1, 3, 0)
    assert await _order_state(settings) == (1, 1, 1)  # one transition; one message for 3 queues
    async with database(settings) as db:
        received = await db.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'message.received'"
        )
    assert received == 1  # the copies were never decided
    async with amqp(settings) as ch:
        for queue in ("hub.bnmp.out", "hub.setarim.out", unit_queue(UNIT)):
            assert len(await drain(ch, queue)) == 1, queue


async def _declare(settings: HubSettings) -> None:
    """Declare the hub's queues as the hub does, without consuming them."""
    broker = make_broker(settings.rabbit)
    await broker.connect()
    try:
        topology = build_topology(
            settings.units, settings.retry.ladder_s, settings.rabbit.delivery_limit
        )
        await declare(broker, topology)
    finally:
        await broker.stop()


async def depth_of(settings: HubSettings, queue: str) -> int:
    """Ready plus unacknowledged messages of `queue`."""
    async with amqp(settings) as ch:
        return await depth(ch, queue)
