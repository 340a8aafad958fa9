"""The main job: the hub and its four simulated external systems through a compressed-time day.

`python -m hub demo` (run by `bash deploy/demo.sh`) builds its own RabbitMQ vhost and PostgreSQL
schema, starts the BNMP, SETARIM and court simulators on loopback and the custodial units as AMQP
clients, serves the ops dashboard, and plays a scenario: warrants issued, complied and revoked;
hundreds of release orders, some with impediments, some on flagrante; a BNMP outage of more than an
hour (hub time) in the middle; a slow unit; a few malformed documents. It prints progress, then a
summary, and exits 0 when every order ended certified or in the dead-letter store with its reason.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import asyncpg
import httpx
import structlog

from hub.app import Hub
from hub.domain.circuit import CircuitPolicy
from hub.http.server import HttpServer
from hub.ops.api import create_app
from hub.ops.service import OpsService
from hub.settings import HubSettings, OpsUser
from sandbox.demo.driver import Driver
from sandbox.demo.report import progress_line, summarise
from sandbox.demo.scenario import Step, build_scenario
from sandbox.simulate import SimWorld

log = structlog.get_logger("hub.demo")

__all__ = ["DemoOptions", "ScaledClock", "run_demo"]

log = structlog.get_logger("hub.demo")


class ScaledClock:
    """Hub time running `factor` times faster than real time, from `start`."""

    def __init__(self, factor: float, start: datetime) -> None:
        self.factor = factor
        self._start = start
        self._t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self.factor)


@dataclass
class DemoOptions:
    """How big and how fast the demo is."""

    orders: int = 300
    warrants: int = 100
    factor: float = 600.0  # one real second is ten hub minutes: 24 h pass in 144 s
    vhost: str = "hub-demo"
    schema: str = "hub_demo"
    dashboard_port: int = 8080
    keep_running: bool = False
    timeout_s: float = 150.0
    seed: int = 7


def demo_settings(opts: DemoOptions, base: HubSettings) -> HubSettings:
    """The hub's settings for the demo: its own vhost and schema, a short retry ladder."""
    parts = urlsplit(base.rabbit.url)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + quote(opts.vhost, safe=""), "", ""))
    return base.model_copy(
        update={
            "rabbit": base.rabbit.model_copy(update={"url": url}),
            "postgres": base.postgres.model_copy(update={"schema_": opts.schema}),
            "retry": base.retry.model_copy(update={"ladder_s": (0.5, 1.0, 2.0, 4.0)}),
            "bnmp": base.bnmp.model_copy(update={"poll_every_s": 0.5, "timeout_s": 2.0}),
            "setarim": base.setarim.model_copy(update={"timeout_s": 2.0}),
            "court": base.court.model_copy(update={"timeout_s": 2.0}),
        }
    )


async def _fresh_vhost(settings: HubSettings, vhost: str) -> None:
    """Recreate the demo's vhost, so each run starts from empty queues."""
    mgmt = urlsplit(settings.rabbit.management_url)
    user = urlsplit(settings.rabbit.url).username or "guest"
    auth = (mgmt.username or "guest", mgmt.password or "guest")
    base = f"{mgmt.scheme}://{mgmt.hostname}:{mgmt.port or 15672}/api"
    async with httpx.AsyncClient(base_url=base, auth=auth, timeout=30) as api:
        name = quote(vhost, safe="")
        await api.delete(f"/vhosts/{name}")
        (await api.put(f"/vhosts/{name}")).raise_for_status()
        perms = {"configure": ".*", "write": ".*", "read": ".*"}
        (await api.put(f"/permissions/{name}/{user}", json=perms)).raise_for_status()


async def _fresh_schema(settings: HubSettings) -> None:
    """Drop the demo's schema; the hub migrates a new one at start-up."""
    conn = await asyncpg.connect(settings.postgres.dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{settings.postgres.schema_}" CASCADE')
    finally:
        await conn.close()


async def _play(steps: tuple[Step, ...], driver: Driver, hub: Hub, started: float) -> None:
    """Carry out each step at its time (a script's timeline); a barrier waits for the hub."""
    for step in steps:
        delay = started + step.at_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if step.action == "barrier":
            started += await _barrier(hub, step.params["complied"])
        else:
            await driver.do(step)


async def _barrier(hub: Hub, complied: int, within_s: float = 60.0) -> float:
    """Wait until the hub has `complied` warrants on record as complied; return seconds waited."""
    t0 = time.monotonic()
    for _ in range(int(within_s * 10)):
        n = await hub.pool.fetchval("SELECT count(*) FROM warrants WHERE state = 'complied'")
        if n >= complied:
            break
        await asyncio.sleep(0.1)
    return time.monotonic() - t0


async def _settled(hub: Hub, sent: list[str]) -> bool:
    """Every order certified or dead-lettered, and no delivery or publish left pending."""
    pending = await hub.pool.fetchval(
        "SELECT (SELECT count(*) FROM deferred) + (SELECT count(*) FROM outbox"
        " WHERE confirmed_at IS NULL)"
    )
    certified = await hub.pool.fetchval(
        "SELECT count(*) FROM release_orders WHERE state = 'certified' AND order_number = ANY($1)",
        sent,
    )
    parked = await hub.pool.fetchval(
        "SELECT count(DISTINCT correlation_id) FROM dead_letters WHERE correlation_id = ANY($1)",
        sent,
    )
    return bool(pending == 0 and certified + parked >= len(sent))


async def _report(
    hub: Hub, world: SimWorld, driver: Driver, started: float, every_s: float
) -> None:
    while True:
        await asyncio.sleep(every_s)
        line = await progress_line(
            hub.pool,
            world,
            len(driver.sent_orders),
            time.monotonic() - started,
            hub.clock().strftime("%d %H:%M"),
        )
        print(line, flush=True)


async def _dashboard(hub: Hub, port: int) -> HttpServer | None:
    """Serve the ops dashboard in this process, if the port is free."""
    try:
        server = HttpServer(create_app(OpsService.from_hub(hub)), port)
        await server.start()
    except (OSError, SystemExit) as e:
        log.warning("demo.dashboard_unavailable", port=port, error=type(e).__name__)
        return None
    return server


async def run_demo(opts: DemoOptions) -> int:
    """Run the whole demo; return the exit code (0 when every invariant held)."""
    settings = demo_settings(opts, HubSettings())
    settings = settings.model_copy(
        update={
            "ops": settings.ops.model_copy(
                update={
                    "tokens": {
                        "demo-viewer": OpsUser(user="viewer", role="viewer"),
                        "demo-operator": OpsUser(user="operator", role="operator"),
                        "demo-admin": OpsUser(user="admin", role="admin"),
                    }
                }
            )
        }
    )
    await _fresh_vhost(settings, opts.vhost)
    await _fresh_schema(settings)
    clock = ScaledClock(opts.factor, datetime.now(UTC) - timedelta(hours=12))
    world = SimWorld(settings, clock=clock)
    await world.start_http()
    hub = Hub(
        world.hub_settings(),
        clock=clock,
        circuit=CircuitPolicy(threshold=3, probe_every=timedelta(seconds=1)),
    )
    await hub.start()
    await world.start_units()
    dashboard = await _dashboard(hub, opts.dashboard_port)
    if dashboard:
        print(f"ops dashboard: {dashboard.url}/  (tokens: demo-viewer, demo-operator, demo-admin)")
    try:
        return await _scenario(hub, world, settings, opts)
    finally:
        if dashboard:
            await dashboard.stop()
        await world.stop()
        await hub.stop()


async def _scenario(hub: Hub, world: SimWorld, settings: HubSettings, opts: DemoOptions) -> int:
    scenario = build_scenario(opts.orders, opts.warrants, opts.seed)
    print(
        f"scenario: {opts.orders} release orders ({scenario.impeded} with impediments, "
        f"{scenario.flagrante} on flagrante), {opts.warrants} warrants, {scenario.invalid} bad "
        f"documents, BNMP down from {scenario.outage[0]:.0f}s to {scenario.outage[1]:.0f}s "
        f"(x{opts.factor:.0f} time)",
        flush=True,
    )
    conn = await aio_pika.connect(settings.rabbit.url)
    driver = Driver(world, await conn.channel(publisher_confirms=True), hub.clock)
    started = time.monotonic()
    reporter = asyncio.create_task(_report(hub, world, driver, started, 2.0))
    try:
        await _play(scenario.steps, driver, hub, started)
        for _ in range(int(opts.timeout_s * 2)):  # then wait, at most `timeout_s`, for the end
            if await _settled(hub, driver.sent_orders):
                break
            await asyncio.sleep(0.5)
    finally:
        reporter.cancel()
        await conn.close()
    summary = await summarise(hub.pool, world, driver.sent_orders)
    summary.add("wall time (s)", f"{time.monotonic() - started:.1f}")
    print(summary.render(), flush=True)
    if opts.keep_running:
        print("kept running (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()
    return 0 if summary.ok else 1
