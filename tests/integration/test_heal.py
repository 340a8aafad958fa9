"""A topology that heals (real broker and database): a queue, an exchange or a binding deleted by
hand under the running hub is declared again and consumed again within seconds, and what was
published meanwhile reaches its destination."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aio_pika

from hub import metrics
from hub.app import Hub
from hub.domain.topology import unit_exchange, unit_queue
from hub.settings import HubSettings
from tests.factories import UNIT

from .harness import amqp, send, wait_for
from .test_acks import ISSUED, _all, _order, _specs, _with, delete_by_hand

U = unit_queue(UNIT)


async def _queue(settings: HubSettings, name: str) -> tuple[int, int] | None:
    """(ready, consumers) of a queue as the broker answers a passive declare; None if missing."""
    async with amqp(settings) as ch:
        try:
            q = await ch.declare_queue(name, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return None
        r = q.declaration_result
        return int(r.message_count or 0), int(r.consumer_count or 0)


async def _bindings(settings: HubSettings) -> set[tuple[str, str, str]]:
    """Every binding of the test's vhost, as (exchange, queue, routing key)."""
    from tests.conftest import _mgmt

    vhost = quote(unquote(urlsplit(settings.rabbit.url).path.lstrip("/")), safe="")
    async with _mgmt() as api:
        found = (await api.get(f"/bindings/{vhost}")).json()
    return {(b["source"], b["destination"], b["routing_key"]) for b in found if b["source"]}


async def _unbind_by_hand(settings: HubSettings, exchange: str, queue: str) -> None:
    from tests.conftest import _mgmt

    vhost = quote(unquote(urlsplit(settings.rabbit.url).path.lstrip("/")), safe="")
    async with _mgmt() as api:
        path = f"/bindings/{vhost}/e/{quote(exchange, safe='')}/q/{quote(queue, safe='')}/~"
        (await api.delete(path)).raise_for_status()


def _redeclared(kind: str) -> float:
    return float(metrics.TOPOLOGY_REDECLARED.labels(kind)._value.get())


async def test_a_deleted_work_queue_is_declared_and_consumed_again(settings: HubSettings) -> None:
    """`hub.setarim.out` deleted by hand: the broker cancels the hub's consumer, which is the
    signal: the queue is declared again and consumed again within seconds (the healer's schedule
    is an hour here, so the signal did it); orders sent meanwhile and after all reach SETARIM."""
    s = _with(settings, hub_window_s=1, reconcile_every_s=0.2, heal_every_s=3600)
    queue = "hub.setarim.out"
    async with Hub(s, specs=_specs(), background=True) as hub:
        assert await _queue(s, queue) == (0, 1)
        orders = [_order(20 + i) for i in range(6)]
        async with amqp(s) as ch:
            await delete_by_hand(s, "queues", queue)
            for env in orders[:3]:  # while it is gone, or just back
                await send(ch, "hub.court.in", env)

            async def consumed_again() -> bool:
                return await _queue(s, queue) == (0, 1)

            await wait_for(consumed_again, within=10, what="the queue back, with its consumer")
            assert hub.healer.rounds >= 1  # the cancel's signal, not the hourly schedule
            for env in orders[3:]:
                await send(ch, "hub.court.in", env)

        async def all_at_setarim() -> bool:
            rows = await _all(s)
            done = [rows.get((queue, ISSUED, e.correlation_id)) for e in orders]
            return all(r is not None and r["acked_by"] == "delivered" for r in done)

        await wait_for(all_at_setarim, within=30, what="every order delivered to SETARIM")


async def test_deleted_exchanges_bindings_and_queues_come_back_on_schedule(
    settings: HubSettings,
) -> None:
    """What sends no signal (an exchange, a binding, a unit's queue, which the unit consumes) is
    declared again by the healer's schedule; a court's order published afterwards is taken."""
    s = _with(settings, heal_every_s=0.3)
    before = _redeclared("exchange"), _redeclared("queue")
    async with Hub(s, specs=_specs(), background=True):
        bound = await _bindings(s)
        assert ("hub.court.in", "hub.court.in", "") in bound
        assert (unit_exchange(UNIT), "hub.custodial_unit.in", "") in bound
        await delete_by_hand(s, "exchanges", "hub.court.in")  # its binding goes with it
        await _unbind_by_hand(s, unit_exchange(UNIT), "hub.custodial_unit.in")
        await delete_by_hand(s, "queues", U)

        async def healed() -> bool:
            now = await _bindings(s)
            return bound <= now and await _queue(s, U) is not None

        await wait_for(healed, within=10, what="the exchange, bindings and queue back")
        env = _order(40)
        async with amqp(s) as ch:
            await send(ch, "hub.court.in", env)

        async def taken() -> Any:
            return (U, ISSUED, env.correlation_id) in await _all(s)

        await wait_for(taken, what="an order through the exchange declared again")
    assert _redeclared("exchange") - before[0] >= 1
    assert _redeclared("queue") - before[1] >= 1
