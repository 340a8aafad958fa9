"""Whole release-order flows through all four connectors.

A flow is one `court.release_order.issued`, signed by the court, taken by the hub through the court,
BNMP, SETARIM and custodial-unit connectors until the order is certified (the terminal state of
`contracts.lifecycle.ReleaseOrderState`): the order registered in BNMP, validated by SETARIM (no
impediment), received and complied with by the unit (the person released), its compliance
certificate registered in BNMP. On the way the hub consumes about eleven messages per order and
makes eight HTTP calls (BNMP twice, SETARIM once, five signed webhooks to the court).

The worker process (`flow_step`) runs only the hub: a `Hub` with the four real `ConnectorSpec`s
(`connectors.SPECS`) and its background loops, so CPU (`getrusage`) and peak RSS are the hub's. The
simulators (`sandbox.simulate.SimWorld`, answering at once) and the court's sender run in a
second process (`bench.scenarios.flow_world`), started and driven by the worker; their CPU is
reported apart, in `extra.simulators`.

1. Preload (not measured): the court issues one warrant per order; BNMP registers them; BNMP then
   reports each as complied by the police, and the hub records it. So each order covers a known,
   complied warrant, and revokes it, as in production.
2. Measured: the court issues `spec.messages` distinct release orders in a closed loop, keeping at
   most `spec.in_flight` open (issued, certificate not yet registered in BNMP). Done is the count
   of compliance certificates whose BNMP registration the hub has committed (the order is then
   certified), from the consumer's metrics; `bench.measure.drain_window` measures the window.
3. Afterwards, from PostgreSQL: every order certified, and per order the latency from its issue
   (`issued_at`, stamped by the court when it sends) to the audit entry of its transition to
   certified. `rate` is in orders per second, CPU in ms per order.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench.measure import Probe, RssSampler, Window, drain_window, percentiles, slope_per_10k
from bench.probes import rss_mb
from bench.results import StepResult, StepSpec
from bench.scenarios.flow_world import MARK
from hub import metrics
from hub.app import Hub, settle_heap
from hub.settings import HubSettings, revealed_json

__all__ = ["DONE_KIND", "DONE_QUEUE", "UNIT", "flow_settings", "flow_step"]

UNIT = "orders"  # what `messages` counts for this scenario; `rate` is orders/s
DONE_QUEUE = "hub.bnmp.out"
DONE_KIND = "custodial_unit.compliance.certified"
_STAGES = ("received_at", "validated_at", "complied_at")
_NOT_ERRORS = frozenset({"ok", "duplicate"})


def flow_settings(settings: HubSettings) -> HubSettings:
    """The scenario's settings: BNMP's changes polled every 0.5 s (the preload waits on them)."""
    return settings.model_copy(
        update={"bnmp": settings.bnmp.model_copy(update={"poll_every_s": 0.5})}
    )


def _handled() -> Counter[tuple[str, str, str]]:
    """Messages the hub settled so far, by (queue, kind, outcome)."""
    out: Counter[tuple[str, str, str]] = Counter()
    for family in metrics.HANDLED.collect():
        for s in family.samples:
            if s.name.endswith("_total"):
                key = (s.labels["queue"], s.labels["kind"], s.labels["outcome"])
                out[key] += int(s.value)
    return out


def _certified() -> int:
    """Orders certified so far: their compliance certificates registered in BNMP and committed."""
    return _handled()[(DONE_QUEUE, DONE_KIND, "ok")]


class _World:
    """The simulators' process, seen from the hub's worker: commands in, `@flow` events out."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            text = line.decode(errors="replace")
            if text.startswith(MARK):
                await self._events.put(json.loads(text[len(MARK) :]))
            else:
                sys.stderr.write(f"[flow world] {text}")
        await self._events.put({"event": "exited", "code": await self._proc.wait()})

    def tell(self, command: str) -> None:
        """Send a command line."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"{command}\n".encode())

    async def expect(self, event: str, within_s: float) -> dict[str, Any]:
        """The next event, which must be `event`."""
        got = await asyncio.wait_for(self._events.get(), within_s)
        if got.get("event") != event:
            raise RuntimeError(f"flow world: expected {event!r}, got {got}")
        return got

    async def close(self) -> None:
        """End the process: end of input, then a kill if it does not exit."""
        if self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), 30)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


@asynccontextmanager
async def _world(spec: StepSpec) -> AsyncIterator[tuple[_World, HubSettings]]:
    """Start the simulators' process; yield it and the hub's settings pointed at it."""
    with tempfile.TemporaryDirectory(prefix="bench-flow-") as tmp:
        spec_file = Path(tmp) / "spec"
        spec_file.write_text(revealed_json(spec))  # secrets in clear: the worker needs them
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.scenarios.flow_world",
            str(spec_file),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        world = _World(proc)
        try:
            ready = await world.expect("ready", 120)
            yield world, HubSettings.model_validate(ready["settings"])
        finally:
            await world.close()


async def _until_count(pool: asyncpg.Pool, sql: str, n: int, within_s: float) -> int:
    """Poll `sql` (a count) until it reaches `n`; return the last count."""
    deadline = time.monotonic() + within_s
    while True:
        got = int(await pool.fetchval(sql))
        if got >= n or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.1)


async def _latencies(pool: asyncpg.Pool) -> tuple[list[float], dict[str, dict[str, float]]]:
    """Per order, issue → certified (ms, the hub's audit entry); and the stages on the way."""
    rows = await pool.fetch(
        "SELECT r.issued_at, r.received_at, r.validated_at, r.complied_at, a.at AS certified_at"
        " FROM release_orders r JOIN audit_log a ON a.subject = r.order_number"
        " WHERE a.action = 'order.transition' AND a.detail->>'to' = 'certified'"
    )

    def ms(row: Any, field: str) -> float | None:
        at = row[field]
        return None if at is None else (at - row["issued_at"]).total_seconds() * 1000

    total = [v for r in rows if (v := ms(r, "certified_at")) is not None]
    stages = {
        f"issue_to_{field.removesuffix('_at')}": percentiles(
            [v for r in rows if (v := ms(r, field)) is not None]
        )
        for field in _STAGES
    }
    return total, stages


def _diff(after: Counter[Any], before: Counter[Any]) -> Counter[Any]:
    return Counter({k: v - before[k] for k, v in after.items() if v - before[k]})


@dataclass
class _Facts:
    """What the step learnt besides the window: from the hub, its database and the simulators."""

    preload: dict[str, Any]
    handled: Counter[tuple[str, str, str]]
    certified: int
    dead_letters: int
    latencies: list[float]
    stages: dict[str, dict[str, float]]
    engine: dict[str, int]
    simulators: dict[str, Any]


async def _preload(hub: Hub, world: _World, spec: StepSpec) -> dict[str, Any]:
    """Warrants issued and complied (not measured); checked in the hub's database."""
    before = _handled()
    world.tell("preload")
    preload = await world.expect("preloaded", spec.timeout_s)
    sql = "SELECT count(*) FROM warrants WHERE state = 'complied'"
    complied = await _until_count(hub.pool, sql, spec.messages, spec.timeout_s)
    if complied < spec.messages:
        raise RuntimeError(f"preload: {complied} of {spec.messages} warrants complied")
    outcomes = _outcomes(_diff(_handled(), before))
    return {k: v for k, v in preload.items() if k != "event"} | {"outcomes": outcomes}


def _outcomes(handled: Counter[tuple[str, str, str]]) -> dict[str, int]:
    """Messages settled, by outcome (ok, duplicate, retry, dead_letter, deferred, ...); other
    outcomes than ok also by queue."""
    out: Counter[str] = Counter()
    for (queue, _kind, outcome), count in handled.items():
        out[outcome] += count
        if outcome != "ok":
            out[f"{queue}:{outcome}"] += count
    return dict(sorted(out.items()))


async def _measure(spec: StepSpec, world: _World, probe: Probe) -> tuple[Window, RssSampler]:
    """Let the court send the orders; measure until every one is certified."""
    sampler = RssSampler(_certified)
    sampler.start()
    try:
        world.tell("go")
        window = await drain_window(_certified, spec.messages, probe, timeout_s=spec.timeout_s)
    finally:
        await sampler.stop()
    return window, sampler


async def _facts(
    hub: Hub, world: _World, spec: StepSpec, preload: dict[str, Any], before: Counter[Any]
) -> _Facts:
    """Check the end in the database, and collect what each side saw."""
    sql = "SELECT count(*) FROM release_orders WHERE state = 'certified'"
    certified = await _until_count(hub.pool, sql, spec.messages, 60)
    handled = _diff(_handled(), before)
    latencies, stages = await _latencies(hub.pool)
    world.tell("stop")
    sims = await world.expect("stopped", 120)
    return _Facts(
        preload=preload,
        handled=handled,
        certified=certified,
        dead_letters=int(await hub.pool.fetchval("SELECT count(*) FROM dead_letters")),
        latencies=latencies,
        stages=stages,
        engine={"batches": hub.engine.stats.batches, "jobs": hub.engine.stats.jobs},
        simulators=_sims(sims, spec.messages),
    )


async def flow_step(spec: StepSpec) -> StepResult:
    """The hub takes `spec.messages` release orders from issue to certified (module docstring)."""
    async with _world(spec) as (world, settings):
        monitor = await asyncpg.connect(settings.postgres.dsn)
        try:
            async with Hub(settings, background=True) as hub:
                settle_heap()  # as `python -m hub run` does once started
                preload = await _preload(hub, world, spec)
                before = _handled()
                window, sampler = await _measure(spec, world, Probe(monitor, spec))
                facts = await _facts(hub, world, spec, preload, before)
        finally:
            await monitor.close()
    return _result(spec, window, sampler, facts)


def _sims(sims: dict[str, Any], n: int) -> dict[str, Any]:
    """What the simulators' process reports, with its CPU per order (go → stop)."""
    out = {k: v for k, v in sims.items() if k != "event"}
    out["process"] = "separate (bench.scenarios.flow_world): not in the app column"
    out["cpu_ms_per_order"] = round(out.pop("cpu_s") * 1000 / max(n, 1), 3)
    return out


def _result(spec: StepSpec, window: Window, sampler: RssSampler, facts: _Facts) -> StepResult:
    n = max(spec.messages, 1)
    errors = Counter[str]()
    consumed = Counter[str]()
    for (queue, _kind, outcome), count in facts.handled.items():
        consumed[queue] += count
        if outcome not in _NOT_ERRORS:
            errors[f"{queue}:{outcome}"] += count
    if facts.dead_letters:
        errors["dead_letters"] = facts.dead_letters
    if facts.certified < spec.messages:
        errors["not_certified"] = spec.messages - facts.certified
    return StepResult(
        step=spec.step,
        messages=window.messages,
        seconds=round(window.seconds, 3),
        rate=round(window.rate, 2),
        latency_ms=percentiles(facts.latencies),
        cpu_ms_per_msg=window.cpu_ms_per_msg(),
        peak_rss_mb=round(rss_mb("VmHWM"), 1),
        rss_samples=sampler.samples,
        rss_slope_mb_per_10k=slope_per_10k(sampler.samples[len(sampler.samples) // 2 :]),
        errors=dict(errors),
        extra={
            "unit": UNIT,
            "orders": spec.messages,
            "in_flight": spec.in_flight,
            "window": window.opened,
            "certified": facts.certified,
            "latency": "issued_at (the court, at send) to the audit entry of the transition to"
            " certified (the hub); all orders",
            "stages_ms": facts.stages,
            "consumed_per_order": round(sum(consumed.values()) / n, 2),
            "outcomes": _outcomes(facts.handled),
            "consumed_by_queue": dict(consumed),
            "preload": facts.preload,
            "engine": facts.engine,
            "simulators": facts.simulators,
        },
    )
