"""PostgreSQL failover under load: the primary is killed, its synchronous standby promoted, and the
hub goes on against it through its multi-host DSN, losing nothing and doing nothing twice.

A private primary and a streaming standby (`deploy/private.sh`, `deploy/pg-replica.sh`: Debian's
PostgreSQL, `pg_basebackup`, `pg_ctl promote`) on their own ports, the shared RabbitMQ on a vhost of
the test's own, the four simulated systems. The hub's DSN names both instances with
`target_session_attrs=read-write` (asyncpg tries them in order and keeps the one that takes
writes); the standby is synchronous (`synchronous_standby_names`), so every commit the hub saw
succeed is on the standby too. Release orders flow at a steady pace; once some are certified the
primary is killed (`kill -9` of the postmaster and every backend), and the standby is promoted
OUTAGE_S later (a failover manager's detection time) once the hub has met the outage (a message
sent to a retry rung while no instance takes writes); the second half of the orders is sent after
that. Every order must end certified, each person released once, each document registered once in
BNMP, nothing dead-lettered. A second test shows why the standby is synchronous.

Runs by default (about 30 s in all). It skips only where PostgreSQL's server binaries are missing,
and under CI=true it fails instead. The instances and their directory are removed after each test,
pass or fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from contracts.ids import cpf_check_digits
from hub import metrics
from hub.app import Hub
from hub.domain.circuit import CircuitPolicy
from hub.settings import (
    EngineSettings,
    HubSettings,
    PostgresSettings,
    RabbitSettings,
    RetrySettings,
)
from sandbox.demo.scenario import COURTS, UNITS, Person, Step, process_of
from sandbox.faults.driver import CourtLink, FaultDriver
from sandbox.simulate import SimWorld
from tests.conftest import MGMT_URL, vhost_url

from .harness import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240),  # a backstop: every wait below is bounded and fails sooner
]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# The test's own directory (data, logs, sockets), deleted at the end; not the fault suite's.
DIR = Path(os.environ.get("HUB_PG_FAILOVER_TEST_DIR", "/tmp/hub-pg-failover-test"))
PRIMARY, STANDBY = ("hubpga", 5446), ("hubpgb", 5447)
DSN = (
    f"postgresql://hub:hub@127.0.0.1:{PRIMARY[1]},127.0.0.1:{STANDBY[1]}/hub"
    "?target_session_attrs=read-write"
)
ORDERS = 160  # the first half before and while the primary is killed, the second after
HALF = ORDERS // 2
PER_S = 25.0  # orders sent per second
KILL_AFTER = 25  # certified orders before the primary is killed
OUTAGE_S = 5.0  # a failover manager's time to notice the primary is gone (part of the scenario)
FIRST = 40000  # case numbers of this test's orders


class ScriptFailed(RuntimeError):
    """A `deploy/` script failed or did not finish in time."""


async def script(name: str, *args: str, within: float = 90.0) -> str:
    """`deploy/<name> ARGS` on the test's directory; its process group is killed after `within`."""
    proc = await asyncio.create_subprocess_exec(
        "bash",
        str(DEPLOY / name),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=os.environ | {"HUB_PRIVATE_DIR": str(DIR)},
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), within)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)
        raise ScriptFailed(f"{name} {' '.join(args)}: not done in {within} s") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise ScriptFailed(f"{name} {' '.join(args)} failed: {text.strip()[-1500:]}")
    return text


def _port_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


async def _remove() -> None:
    """Both instances stopped (or already dead) and their directory deleted."""
    await script("private.sh", "remove", within=120)
    assert not await asyncio.to_thread(DIR.exists), f"{DIR} is still there after the removal"


@pytest.fixture
async def pg_pair(services: None, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A private primary with a streaming standby, synchronous unless the test's parameter says
    `async`; both removed afterwards. Its value is that mode."""
    mode: str = getattr(request, "param", "sync")
    if not glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"):
        reason = "no PostgreSQL server binaries (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    await _remove()  # whatever a killed run of this test left
    taken = [port for _, port in (PRIMARY, STANDBY) if _port_answers(port)]
    assert not taken, f"ports {taken} (the test's PostgreSQL pair) are taken by another"
    try:
        await script("private.sh", "postgres", "start", PRIMARY[0], str(PRIMARY[1]))
        await script("pg-replica.sh", "replica", STANDBY[0], str(STANDBY[1]), PRIMARY[0], mode)
        yield mode
    finally:
        await _remove()


@dataclass
class Failover:
    """Where the load stood when the primary was killed, and how soon the hub went on."""

    sent: int
    certified: int
    down_s: float  # from the kill until the standby took writes (promoted once the hub retried)
    resumed_s: float  # from the kill until an order sent after it was certified


def _settings(vhost: str) -> HubSettings:
    return HubSettings(
        units=UNITS,
        rabbit=RabbitSettings(url=vhost_url(vhost), management_url=MGMT_URL, prefetch=64),
        postgres=PostgresSettings(dsn=DSN, schema="hub"),
        retry=RetrySettings(ladder_s=(0.5, 1, 2, 5, 10, 20), immediate_attempts=2),
        engine=EngineSettings(outbox_sweep_s=0.5, outbox_grace_s=2),
    )


def _order(i: int) -> Step:
    first9 = f"{300000000 + i * 7919:09d}"
    person = Person(first9 + cpf_check_digits(first9), f"Pessoa {i}", "Mãe Exemplo")
    params = {"i": FIRST + i, "person": person, "court": COURTS[0], "unit": UNITS[i % 3]}
    return Step(0.0, "order", params | {"flagrante": True})


def _number(i: int) -> str:
    return f"{process_of(FIRST + i)}.0002"


async def _certified(hub: Hub, numbers: list[str] | None = None) -> int:
    sql = "SELECT count(*) FROM release_orders WHERE state = 'certified'"
    if numbers is None:
        return int(await hub.pool.fetchval(sql))
    return int(await hub.pool.fetchval(sql + " AND order_number = ANY($1::text[])", numbers))


async def _sync_standby() -> str | None:
    """The standby's replication mode as the primary reports it (`sync` expected)."""
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{PRIMARY[1]}/postgres")
    try:
        mode: str | None = await conn.fetchval(
            "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1", STANDBY[0]
        )
        return mode
    finally:
        await conn.close()


async def _send(driver: FaultDriver, promoted: asyncio.Event) -> None:
    """Orders at PER_S; the second half only once the standby has been promoted."""
    for i in range(ORDERS):
        if i == HALF:
            await asyncio.wait_for(promoted.wait(), 120)
        await driver.do(_order(i))
        await asyncio.sleep(1 / PER_S)  # the pace of the load, not a synchronisation


def _retried() -> float:
    """Messages this process's hubs have sent to a retry rung so far (all queues)."""
    return sum(
        sample.value
        for family in metrics.HANDLED.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["outcome"] == "retry"
    )


def _progress(hub: Hub, driver: FaultDriver) -> Callable[[], Awaitable[str]]:
    async def progress() -> str:
        try:
            certified: object = await _certified(hub)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            certified = repr(e)
        return f"{len(driver.sent_orders)} sent, {certified} certified"

    return progress


async def _fail_over_under_load(hub: Hub, driver: FaultDriver) -> Failover:
    """Send the orders; once KILL_AFTER are certified, kill the primary and promote the standby;
    return when all are sent and one sent after the promotion is certified."""
    promoted = asyncio.Event()
    progress = _progress(hub, driver)
    after = [_number(i) for i in range(HALF, ORDERS)]
    sending = asyncio.create_task(_send(driver, promoted))
    try:

        async def flowing() -> bool:
            return await _certified(hub) >= KILL_AFTER

        await wait_for(flowing, within=60, every=0.1, what="orders flowing", detail=progress)
        assert await _sync_standby() == "sync", "the standby is synchronous before the kill"
        sent, certified = len(driver.sent_orders), await _certified(hub)
        killed_at, retried = time.monotonic(), _retried()
        await script("pg-replica.sh", "kill", PRIMARY[0], within=60)

        async def met_the_outage() -> bool:  # with no primary: the standby refuses writes
            return _retried() > retried

        await wait_for(met_the_outage, within=30, every=0.1, what="the hub to retry a message")
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - killed_at)))  # the scenario
        await script("pg-replica.sh", "promote", STANDBY[0], within=60)
        down_s = time.monotonic() - killed_at
        promoted.set()

        async def resumed() -> bool:
            return await _certified(hub, after) > 0

        await wait_for(
            resumed, within=90, every=0.1, what="an order after the promotion", detail=progress
        )
        resumed_s = time.monotonic() - killed_at
        await asyncio.wait_for(asyncio.shield(sending), 60)
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
    return Failover(sent, certified, down_s, resumed_s)


async def _bounded(what: str, aw: Awaitable[object], within: float = 60.0) -> None:
    """Teardown steps: bounded, and a failure is printed, not raised (the rest goes on)."""
    try:
        await asyncio.wait_for(aw, within)
    except Exception as e:  # teardown goes on; the fixture removes the instances
        print(f"teardown: {what} failed: {e!r}")


@contextlib.asynccontextmanager
async def _running(vhost: str) -> AsyncIterator[tuple[Hub, SimWorld, FaultDriver]]:
    """The simulators, the hub on the multi-host DSN, the units, and a court system."""
    world = SimWorld(_settings(vhost))
    hub = Hub(world.hub_settings(), circuit=CircuitPolicy(probe_every=timedelta(seconds=1)))
    link = CourtLink(vhost_url(vhost), patience_s=60)
    try:
        async with asyncio.timeout(90):
            await world.start_http()
            await hub.start()
            await world.start_units()
            driver = FaultDriver(world, link, await link.channel(), lambda: datetime.now(UTC))
        yield hub, world, driver
    finally:
        await _bounded("the simulators' stop", world.stop())
        await _bounded("the hub's stop", hub.stop())
        await _bounded("the court's connection", link.close())


async def test_the_hub_goes_on_on_the_promoted_standby_and_loses_nothing(
    pg_pair: str, vhost: str
) -> None:
    """The primary killed under load, the synchronous standby promoted: every order certified
    once, those sent after the promotion too; the hub's connections are on the new primary."""
    async with _running(vhost) as (hub, world, driver):
        t0 = time.monotonic()
        failover = await _fail_over_under_load(hub, driver)

        async def all_certified() -> bool:
            return await _certified(hub) >= ORDERS

        progress = _progress(hub, driver)
        await wait_for(
            all_certified, within=90, every=0.2, what="every order certified", detail=progress
        )
        done_s = time.monotonic() - t0

        async def outbox_confirmed() -> bool:
            left = await hub.pool.fetchval("SELECT count(*) FROM outbox WHERE confirmed_at IS NULL")
            return int(left) == 0

        await wait_for(outbox_confirmed, within=60, every=0.2, what="the outbox all confirmed")

        assert failover.sent < ORDERS, "the primary is killed while orders are still being sent"
        assert failover.certified < ORDERS, "and while orders are still in flight"
        assert await hub.pool.fetchval("SELECT inet_server_port()") == STANDBY[1]
        assert await hub.pool.fetchval("SELECT pg_is_in_recovery()") is False
        await _exactly_once(world, hub, sorted(driver.sent_orders))
        print(
            f"\n{ORDERS} orders certified once each in {done_s:.1f} s; primary killed at "
            f"{failover.certified} certified and {failover.sent} sent; the standby took writes "
            f"{failover.down_s:.1f} s after the kill, the first order sent after it was "
            f"certified {failover.resumed_s:.1f} s after the kill"
        )


async def _exactly_once(world: SimWorld, hub: Hub, sent: list[str]) -> None:
    """Each order certified, released (or kept) once by its unit, and registered once in BNMP
    with its certificate; nothing dead-lettered."""
    assert sent == sorted(_number(i) for i in range(ORDERS))
    rows = await hub.pool.fetch("SELECT order_number, state FROM release_orders")
    assert sorted(r["order_number"] for r in rows) == sent
    assert {r["state"] for r in rows} == {"certified"}
    letters = await hub.pool.fetch("SELECT reason, count(*) AS n FROM dead_letters GROUP BY 1")
    assert {r["reason"]: r["n"] for r in letters} == {}
    acted = world.units.released + world.units.kept
    assert all(acted[n] == 1 for n in sent), {n: acted[n] for n in sent if acted[n] != 1}
    assert sum(acted.values()) == ORDERS
    stats = world.stats()
    assert stats["units"]["released_twice"] == 0
    assert stats["bnmp"]["effects"] == 2 * ORDERS  # the order and its compliance certificate


@pytest.mark.parametrize(
    ("pg_pair", "acknowledged"), [("sync", False), ("async", True)], indirect=["pg_pair"]
)
async def test_a_commit_is_acknowledged_only_once_the_standby_has_it(
    pg_pair: str, acknowledged: bool
) -> None:
    """Why the standby is synchronous. With WAL no longer reaching the standby (the primary's WAL
    sender stopped), a commit through the hub's DSN waits (sync) or returns at once (async); the
    primary is then killed and the standby promoted. Rows acknowledged before are on the new
    primary in both modes; the last one is not: sync never acknowledged it (the hub retries the
    message, its inbox drops a copy that did get through), async acknowledged a commit that is lost
    (the hub would have acked the message in the broker: gone for good)."""
    assert await _sync_standby() == pg_pair
    conn = await asyncpg.connect(DSN)
    try:
        await conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        await conn.execute("INSERT INTO t VALUES (1)")
        await _stop_wal_sender()
        try:
            await conn.execute("INSERT INTO t VALUES (2)", timeout=2)
        except TimeoutError:
            returned = False
        else:
            returned = True
    finally:
        conn.terminate()
    await script("pg-replica.sh", "kill", PRIMARY[0], within=60)
    await script("pg-replica.sh", "promote", STANDBY[0], within=60)
    conn = await asyncpg.connect(DSN)
    try:
        on_new_primary = [r["id"] for r in await conn.fetch("SELECT id FROM t ORDER BY id")]
    finally:
        await conn.close()
    assert (returned, on_new_primary) == (acknowledged, [1])


async def _stop_wal_sender() -> None:
    """SIGSTOP the primary's WAL sender to the standby: WAL stops leaving the primary (the kill
    that follows ends it)."""
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{PRIMARY[1]}/postgres")
    try:
        pid = await conn.fetchval(
            "SELECT pid FROM pg_stat_replication WHERE application_name = $1", STANDBY[0]
        )
    finally:
        await conn.close()
    assert isinstance(pid, int), "the primary has a WAL sender to the standby"
    os.kill(pid, signal.SIGSTOP)
