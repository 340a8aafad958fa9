"""A three-node RabbitMQ cluster (`deploy/cluster.sh`): quorum queues on all three nodes, and a node
stopped under load while the hub goes on and loses nothing.

The topology is declared through hub2, so the quorum queues' leaders start there; the hub and the
custodial units connect to hub1, the court publishes through hub3. Stopping hub2 mid-flow moves
every leader. Locally the module skips when the cluster cannot be started; with CI=true it fails.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from connectors.simulate import SimWorld
from contracts.ids import cpf_check_digits
from hub.app import Hub
from hub.broker import declare, make_broker
from hub.circuit import CircuitPolicy
from hub.demo_scenario import COURTS, UNITS, Person, Step, process_of
from hub.faults.driver import CourtLink, FaultDriver, ResilientUnits
from hub.faults.services import CLUSTER_SH, ServicesUnavailable, run_script
from hub.settings import (
    EngineSettings,
    HubSettings,
    PostgresSettings,
    RabbitSettings,
    RetrySettings,
)
from tests.integration.harness import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(400),
    pytest.mark.asyncio(loop_scope="module"),  # the fixtures' hub lives in the module's loop
]

PORTS = {"hub1": 5681, "hub2": 5682, "hub3": 5683}
PG = ("hubcluster", "5445")
VHOST = "cluster"
ORDERS = 150


def amqp_url(node: str) -> str:
    """The AMQP URL of `node`, on the test's vhost."""
    return f"amqp://guest:guest@127.0.0.1:{PORTS[node]}/{VHOST}"


def _api() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{PORTS['hub1'] + 10000}/api",
        auth=("guest", "guest"),
        timeout=10,
    )


async def queues() -> dict[str, dict[str, Any]]:
    """Every queue of the vhost as hub1's management API describes it (members, leader...)."""
    async with _api() as api:
        resp = await api.get(f"/queues/{VHOST}")
        resp.raise_for_status()
        return {q["name"]: q for q in resp.json()}


async def _give_up(reason: str) -> None:
    await _teardown()
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


async def _teardown() -> None:
    await asyncio.gather(
        run_script("remove", script=CLUSTER_SH, timeout_s=120),
        run_script("postgres", "remove", *PG),
        return_exceptions=True,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster() -> AsyncIterator[None]:
    """The three nodes joined, a private PostgreSQL, and the test's vhost; all removed after."""
    try:
        await run_script("start", script=CLUSTER_SH, timeout_s=300)
        await run_script("postgres", "start", *PG)
        async with _api() as api:
            (await api.put(f"/vhosts/{VHOST}")).raise_for_status()
            perms = {"configure": ".*", "write": ".*", "read": ".*"}
            (await api.put(f"/permissions/{VHOST}/guest", json=perms)).raise_for_status()
    except (ServicesUnavailable, httpx.HTTPError) as e:
        await _give_up(f"the three-node cluster could not start: {e}")
    try:
        yield
    finally:
        await _teardown()


@dataclass
class Running:
    """The hub on hub1 with the simulators, and a court publishing through hub3."""

    hub: Hub
    world: SimWorld
    driver: FaultDriver


def _settings() -> HubSettings:
    return HubSettings(
        units=UNITS,
        rabbit=RabbitSettings(
            url=amqp_url("hub1"),
            management_url=f"http://guest:guest@127.0.0.1:{PORTS['hub1'] + 10000}/",
            prefetch=64,
        ),
        postgres=PostgresSettings(dsn=f"postgresql://hub:hub@127.0.0.1:{PG[1]}/hub", schema="hub"),
        retry=RetrySettings(ladder_s=(0.5, 1, 2, 5, 10, 20), immediate_attempts=2),
        engine=EngineSettings(outbox_sweep_s=0.5, outbox_grace_s=2),
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(cluster: None) -> AsyncIterator[Running]:
    """Topology declared through hub2 (leaders there); hub and units on hub1; court via hub3."""
    settings = _settings()
    world = SimWorld(settings)
    world.units = ResilientUnits(settings.rabbit.url, list(settings.units), world.clock)
    await world.start_http()
    hub = Hub(world.hub_settings(), circuit=CircuitPolicy(probe_every=timedelta(seconds=1)))
    via_hub2 = make_broker(RabbitSettings(url=amqp_url("hub2")))
    await via_hub2.connect()
    await declare(via_hub2, hub.topology)
    await via_hub2.stop()
    await hub.start()
    await world.start_units()
    link = CourtLink(amqp_url("hub3"))
    driver = FaultDriver(world, link, await link.channel(), lambda: datetime.now(UTC))
    try:
        yield Running(hub, world, driver)
    finally:
        await world.stop()
        await hub.stop()
        await link.close()


def _order(i: int) -> Step:
    first9 = f"{300000000 + i * 7919:09d}"
    person = Person(first9 + cpf_check_digits(first9), f"Pessoa {i}", "Mãe Exemplo")
    params = {"i": 30000 + i, "person": person, "court": COURTS[0], "unit": UNITS[i % 3]}
    return Step(0.0, "order", params | {"flagrante": True})


async def _certified(hub: Hub) -> int:
    n = await hub.pool.fetchval("SELECT count(*) FROM release_orders WHERE state = 'certified'")
    return int(n)


async def test_quorum_queues_have_a_replica_on_each_node(running: Running) -> None:
    """Every work and dead-letter queue of the hub is a quorum queue with members on all 3 nodes."""
    found = await queues()
    for q in running.hub.topology.queues:
        info = found[q.name]
        assert info["type"] == "quorum", q.name
        assert sorted(info["members"]) == [f"{n}@localhost" for n in PORTS], q.name
    assert found["hub.court.in"]["leader"] == "hub2@localhost"


async def test_a_node_stopped_under_load_loses_nothing_and_the_hub_goes_on(
    running: Running,
) -> None:
    """hub2 (every leader) stops while orders flow: all are certified once; hub2 rejoins."""
    sending = asyncio.create_task(_send(running.driver, ORDERS, per_s=25.0))
    await wait_for(lambda: _at_least(running.hub, 10), within=60, what="orders flowing")
    await run_script("rabbitctl", "hub2", "stop_app")
    stopped_at = await _certified(running.hub)
    t0 = time.monotonic()
    await sending
    await wait_for(lambda: _at_least(running.hub, ORDERS), within=180, every=0.5, what="all")
    during = time.monotonic() - t0
    moved = await queues()
    await run_script("rabbitctl", "hub2", "start_app")
    assert stopped_at < ORDERS, "the node must stop while orders are still in flight"
    assert all(q["leader"] != "hub2@localhost" for q in moved.values() if q.get("leader"))
    _exactly_once(running.world, sorted(running.driver.sent_orders))
    await wait_for(_all_members_back, within=60, what="hub2's replicas back")
    print(f"{ORDERS} orders certified, {ORDERS - stopped_at} after hub2 stopped ({during:.0f} s)")


async def _send(driver: FaultDriver, n: int, per_s: float) -> None:
    for i in range(n):
        await driver.do(_order(i))
        await asyncio.sleep(1 / per_s)


async def _at_least(hub: Hub, n: int) -> bool:
    return await _certified(hub) >= n


async def _all_members_back() -> bool:
    found = await queues()
    return all(len(q.get("online", [])) == 3 for q in found.values() if q["type"] == "quorum")


def _exactly_once(world: SimWorld, sent: list[str]) -> None:
    """Each order released (or kept) once by its unit, and registered once in BNMP (with its
    certificate)."""
    assert len(sent) == ORDERS
    assert sent == sorted(f"{process_of(30000 + i)}.0002" for i in range(ORDERS))
    acted = world.units.released + world.units.kept
    assert all(acted[n] == 1 for n in sent), {n: acted[n] for n in sent if acted[n] != 1}
    stats = world.stats()
    assert stats["units"]["released_twice"] == 0
    assert stats["bnmp"]["effects"] == 2 * ORDERS  # the order and its compliance certificate
