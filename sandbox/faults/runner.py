"""The fault suite: a scenario of many orders driven into supervised hub processes while faults hit.

`run_faults` starts the suite's own RabbitMQ node and PostgreSQL instance (`deploy/private.sh`),
the simulators in this process (BNMP, SETARIM and the court over HTTP, the custodial units over
AMQP), and the hub as separate processes (`python -m hub run --no-dashboard`), restarted when they
exit. It plays the demo's warrants, then sends the orders and bad inputs over the fault window while
the plan's faults are injected; then it waits, bounded, until everything has settled and checks the
invariants (`sandbox.faults.checks`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import asyncpg
import httpx

from hub.domain.topology import in_queue
from hub.settings import HubSettings, PostgresSettings
from hub.store import create_pool
from sandbox.demo.scenario import Step, process_of
from sandbox.faults.checks import Findings, Sent, broker_queues, evaluate, take_snapshot
from sandbox.faults.driver import CourtLink, FaultDriver, ResilientUnits
from sandbox.faults.environment import fresh_vhost, hub_env, poll, set_window, suite_settings
from sandbox.faults.plan import WINDOWS, Fault, Plan, Profile, build_plan
from sandbox.faults.report import Report
from sandbox.faults.services import PrivateServices
from sandbox.faults.supervisor import HubProcesses
from sandbox.simulate import SimWorld

__all__ = ["FaultOptions", "log_to", "run_faults", "run_suite"]


@dataclass
class FaultOptions:
    """What to run, and where to write the logs and the JSON report."""

    profile: Profile
    out_dir: Path
    hubs: int | None = None
    keep_services: bool = False
    services: PrivateServices = field(default_factory=PrivateServices)


class _Run:
    """One run's moving parts (built by `run_suite`)."""

    def __init__(self, opts: FaultOptions, plan: Plan, stamp: str) -> None:
        self.opts, self.plan, self.services = opts, plan, opts.services
        self.vhost, self.schema = f"faults-{stamp}", f"faults_{stamp}"
        self.hubs_n = opts.hubs or opts.profile.hubs
        url = self.services.amqp_url.rstrip("/") + "/" + quote(self.vhost, safe="")
        base = HubSettings()
        rabbit = {"url": url, "management_url": self.services.management_url}
        self.settings = base.model_copy(update={"rabbit": base.rabbit.model_copy(update=rabbit)})
        self.world = SimWorld(self.settings)
        self.world.units = ResilientUnits(
            url, list(self.settings.units), self.world.clock, self.world.unit_urls
        )
        self.link = CourtLink(url)
        self.t0 = time.monotonic()
        self._infra_lock = asyncio.Lock()
        self.report = Report(opts.profile.name, opts.profile.seed, self.hubs_n, Findings())
        self.hubs: HubProcesses
        self.pool: asyncpg.Pool
        self.driver: FaultDriver

    def mark(self, what: str) -> None:
        """Put an event on the run's timeline (and on the console)."""
        at = round(time.monotonic() - self.t0, 1)
        self.report.timeline.append((at, what))
        print(f"[{at:7.1f}s] {what}", flush=True)

    async def start(self) -> None:
        """Simulators, hub processes (ready when they consume), units, the suite's own pool."""
        await fresh_vhost(self.services.management_url, self.vhost)
        await self.world.start_http()
        env = hub_env(suite_settings(self.world.hub_settings(), self.services, self.schema))
        self.hubs = HubProcesses(self.hubs_n, env, self.opts.out_dir)
        await self.hubs.start()
        if not await poll(self._consumers_ready, 120):
            raise RuntimeError(f"hub processes did not start: see {self.opts.out_dir}/hub-*.log")
        await self.world.start_units()
        pg = PostgresSettings(dsn=self.services.dsn, schema=self.schema, pool_min=1, pool_max=3)
        self.pool = await create_pool(pg, apply_migrations=False)
        channel = await self.link.channel()
        self.driver = FaultDriver(self.world, self.link, channel, lambda: datetime.now(UTC))
        self.mark(f"{self.hubs_n} hub processes consuming; units connected")

    async def _consumers_ready(self) -> bool:
        parts = urlsplit(self.services.management_url)
        url = f"http://{parts.hostname}:{parts.port}/api/queues/{quote(self.vhost, safe='')}"
        async with httpx.AsyncClient(auth=("guest", "guest"), timeout=5) as api:
            resp = await api.get(f"{url}/{in_queue('court')}")
            return resp.status_code == 200 and resp.json().get("consumers", 0) >= self.hubs_n

    async def stop(self) -> None:
        """Stop the hub processes, the simulators and the pool (whatever was started)."""
        if hasattr(self, "hubs"):
            await self.hubs.stop()
        await self.world.stop()
        await self.link.close()
        if hasattr(self, "pool"):
            await self.pool.close()

    # ------------------------------------------------------------------ the scenario

    async def play(self, steps: tuple[Step, ...], started: float) -> None:
        """Carry out each step at its time; a barrier waits for the warrants complied."""
        for step in steps:
            delay = started + step.at_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if step.action == "barrier":
                await self._barrier(step.params["complied"])
            else:
                await self.driver.do(step)

    async def _barrier(self, complied: int) -> None:
        async def enough() -> bool:
            n = await self.pool.fetchval("SELECT count(*) FROM warrants WHERE state = 'complied'")
            return bool(n >= complied)

        if not await poll(enough, 120):
            self.report.notes.append(f"barrier: fewer than {complied} warrants complied in 120 s")

    # ------------------------------------------------------------------ the faults

    async def inject_all(self, faults: tuple[Fault, ...], started: float) -> None:
        """Start each fault at its time; return when every one (and its recovery) is over."""
        running: list[asyncio.Task[None]] = []
        for fault in faults:
            delay = started + fault.at_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            running.append(asyncio.create_task(self._inject(fault)))
        await asyncio.gather(*running)

    async def _inject(self, fault: Fault) -> None:
        self.report.faults[fault.action] += 1
        if fault.action == "kill_hub":
            pid = self.hubs.kill(fault.target)
            self.mark(f"kill -9 hub {fault.target % self.hubs_n} (pid {pid})")
        elif fault.action in WINDOWS:
            await self._window(fault)
        else:
            await self._infra(fault)

    async def _infra(self, fault: Fault) -> None:
        # One infrastructure fault at a time: on a loaded machine a broker restart can outlast the
        # gap the plan leaves, and the next one then waits for it (each is measured on its own).
        async with self._infra_lock:
            await self._infra_now(fault)

    async def _infra_now(self, fault: Fault) -> None:
        self.mark(f"{fault.action}: begin")
        t0, before = time.monotonic(), self.hubs.pids()
        match fault.action:
            case "broker_restart":
                await self.services.rabbit("restart")
            case "broker_kill":
                await self.services.rabbit("kill")
                await asyncio.sleep(2)
                await self.services.rabbit("start")
            case "pg_restart":
                await self.services.postgres("restart")
            case "pg_crash":
                await self.services.postgres("crash")
        self.mark(f"{fault.action}: back after {time.monotonic() - t0:.1f} s")
        if fault.action.startswith("broker"):
            await self._survivors(before)

    async def _survivors(self, before: dict[int, int]) -> None:
        """Note which hub processes lived through a broker fault, and when all consumed again."""
        t0 = time.monotonic()
        back = await poll(self._consumers_ready, 90, every_s=1.0)
        lived = sorted(s for s, pid in self.hubs.pids().items() if before.get(s) == pid)
        self.report.broker_survivors.append(lived)
        wait = f"{time.monotonic() - t0:.0f} s" if back else "NOT within 90 s"
        self.mark(
            f"broker back: hub processes {lived} lived through it; all consuming after {wait}"
        )
        if not back:
            self.report.notes.append(
                "hub processes did not consume again within 90 s of a broker fault"
            )

    async def _window(self, fault: Fault) -> None:
        self.mark(f"{fault.action} for {fault.duration_s:.0f} s")
        set_window(self.world, fault.action, on=True)
        try:
            await asyncio.sleep(fault.duration_s)
        finally:
            set_window(self.world, fault.action, on=False)

    # ------------------------------------------------------------------ the end

    def sent(self) -> Sent:
        """What was sent, the bad orders apart."""
        bad = {f"{process_of(i)}.0002" for i in self.plan.bad_orders}
        sent = self.driver.sent_orders
        return Sent(
            orders=tuple(n for n in sent if n not in bad),
            bad_orders=tuple(n for n in sent if n in bad),
            malformed_ids=tuple(self.driver.malformed_ids),
            warrants=tuple(self.driver.warrants_sent),
            counter_warrants=tuple(self.driver.counter_warrants_sent),
        )

    async def findings(self, *, audit: bool = False) -> Findings:
        """The invariants now."""
        queues = await broker_queues(self.services.management_url, self.vhost)
        snap = await take_snapshot(self.pool, self.world, queues, self.hubs_n, audit=audit)
        return evaluate(snap, self.sent())

    async def settle(self, within_s: float) -> bool:
        """Wait until no invariant is broken any more (bounded); print progress meanwhile."""
        last = 0.0

        async def settled() -> bool:
            nonlocal last
            f = await self.findings()
            if time.monotonic() - last > 10:
                last = time.monotonic()
                self.mark(_progress(f, self.hubs.running()))
            return f.ok

        return await poll(settled, within_s, every_s=1.0)


def _progress(f: Findings, running: int) -> str:
    parked, queued = sum(f.valid_orders_parked.values()), sum(f.queues_not_empty.values())
    return (
        f"orders {f.orders}: certified {f.certified}, parked {parked}, open {len(f.lost_orders)};"
        f" pending {f.pending}; queued {queued}; hubs up {running};"
        f" consumers missing on {len(f.queues_unconsumed)} queues"
    )


# ---------------------------------------------------------------------- entry points


async def run_suite(opts: FaultOptions) -> Report:
    """Run the scenario under faults on services already started; return the report."""
    plan = build_plan(opts.profile)
    run = _Run(opts, plan, datetime.now(UTC).strftime("%Y%m%d%H%M%S"))
    try:
        await run.start()
        await _phases(run, plan)
        run.report.findings = await run.findings(audit=True)
    finally:
        _tally(run)
        await run.stop()
    run.report.wall_s = round(time.monotonic() - run.t0, 1)
    return run.report


async def _phases(run: _Run, plan: Plan) -> None:
    p, report = run.opts.profile, run.report
    run.mark(f"prelude: {sum(1 for s in plan.prelude if s.action == 'warrant')} warrants")
    await run.play(plan.prelude, time.monotonic())
    report.barrier_s = round(time.monotonic() - run.t0, 1)
    run.mark(f"window: {p.orders} orders over {p.window_s:.0f} s, {len(plan.faults)} faults")
    started = time.monotonic()
    await asyncio.gather(run.play(plan.steps, started), run.inject_all(plan.faults, started))
    report.window_s = round(time.monotonic() - started, 1)
    run.mark("window over; waiting for the hub to settle")
    t0 = time.monotonic()
    if not await run.settle(p.settle_s):
        report.notes.append(f"did not settle within {p.settle_s:.0f} s")
    report.settle_s = round(time.monotonic() - t0, 1)


def _tally(run: _Run) -> None:
    r = run.report
    if hasattr(run, "hubs"):
        r.hub_starts, r.hub_kills, r.unexpected_exits = (
            run.hubs.starts,
            run.hubs.kills,
            list(run.hubs.unexpected),
        )
    r.court_republishes = run.link.retries
    r.service_seconds = dict(run.services.durations)


def log_to(path: Path) -> None:
    """Send this process's library logs (aio-pika's reconnects, asyncpg's) to a file, not stderr."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


async def run_faults(opts: FaultOptions) -> Report:
    """Start the private services, run the suite, write the JSON report, remove the services."""
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    await opts.services.start()
    try:
        report = await run_suite(opts)
    finally:
        if not opts.keep_services:
            await opts.services.remove()
    path = opts.out_dir / f"report-{opts.profile.name}.json"
    path.write_text(report.to_json())
    print(report.render(), flush=True)
    print(f"report: {path}; hub logs: {opts.out_dir}/hub-*.log", flush=True)
    return report
