"""An external system down for a while: deliveries are deferred, nothing is lost, and they are
made in order when it returns; the outage is recorded."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from uuid import uuid4

from contracts import Envelope, format_cnj
from hub.app import Hub
from hub.domain.circuit import CircuitPolicy
from hub.errors import UpstreamUnavailable
from hub.settings import HubSettings
from tests.factories import T0, make_envelope, make_release_order

from .harness import amqp, database, send, wait_for
from .test_delivery import COURT, bnmp, registered

FAST_PROBE = CircuitPolicy(threshold=3, probe_every=timedelta(seconds=0.2))


def _orders(n: int) -> list[Envelope]:
    """`n` release orders issued one minute apart, each for its own process."""
    out = []
    for i in range(n):
        process = format_cnj(1000 + i, 2023, 8, 13, 24)
        order = make_release_order(
            order_number=f"{process}.0002",
            process_number=process,
            covered_warrants=(f"{process}.0001",),
        )
        out.append(make_envelope(order, occurred_at=T0 + timedelta(minutes=i), message_id=uuid4()))
    return out


async def _count(settings: HubSettings, sql: str) -> int:
    async with database(settings) as db:
        return int(await db.fetchval(sql))


async def test_bnmp_outage_defers_and_drains_in_order(settings: HubSettings) -> None:
    """BNMP down: the circuit opens, orders wait; BNMP back: all registered, in issue order."""
    down = True
    made: list[str] = []

    async def bnmp_api(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        if down:
            raise UpstreamUnavailable("bnmp", "connection refused")
        made.append(env.correlation_id)
        return registered(env)

    orders = _orders(12)
    async with Hub(settings, specs=[COURT, bnmp(bnmp_api)], circuit=FAST_PROBE):
        async with amqp(settings) as ch:
            for env in orders:
                await send(ch, "hub.court.in", env)
        await wait_for(
            lambda: _count(settings, "SELECT count(*) FROM deferred"), what="deferred backlog"
        )
        await wait_for(
            lambda: _all_deferred(settings, len(orders)), within=45, what="all 12 deferred"
        )
        await wait_for(lambda: _outage_open(settings), what="outage recorded")
        down = False
        await wait_for(
            lambda: _all_registered(settings, len(orders)), within=45, what="backlog drained"
        )
    assert made == [e.correlation_id for e in orders]  # BNMP saw them in issue order, once each
    assert await _count(settings, "SELECT count(*) FROM deferred") == 0
    assert await _count(settings, "SELECT count(*) FROM outages WHERE ended_at IS NOT NULL") == 1
    assert await _count(settings, "SELECT count(*) FROM dead_letters") == 0


async def _all_deferred(settings: HubSettings, n: int) -> bool:
    return await _count(settings, "SELECT count(*) FROM deferred") == n


async def _all_registered(settings: HubSettings, n: int) -> bool:
    sql = "SELECT count(*) FROM release_orders WHERE bnmp_id IS NOT NULL"
    return await _count(settings, sql) == n


async def _outage_open(settings: HubSettings) -> bool:
    return await _count(settings, "SELECT count(*) FROM outages WHERE ended_at IS NULL") == 1
