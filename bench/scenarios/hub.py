"""The hub under test, in-process: a `Hub` with its background loops on, in its own vhost/schema.

One hop is one `court.warrant.issued` consumed from `hub.court.in` and fully processed: inbox claim,
decision, warrant row, BNMP-registration deadline, one outbox row, three audit entries, commit, the
publish to `hub.bnmp.out` and `hub.setarim.out` (one message, `CC`) confirmed, the confirm recorded,
the ack.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.measure import Probe, RssSampler, Window, drain_window, slope_per_10k
from bench.messages import WarrantFactory
from bench.probes import rss_mb
from bench.results import StepResult, StepSpec
from bench.scenarios.steady import offer_load
from bench.traffic import HUB, preload
from connectors import court
from connectors.bnmp.handlers import answer
from connectors.bnmp.mapping import digits, document_of
from contracts import Envelope
from hub import metrics
from hub.amqp.declare import declare, make_broker
from hub.app import Hub, settle_heap
from hub.connector import ConnectorSpec
from hub.domain.circuit import CircuitPolicy
from hub.domain.topology import build_topology
from hub.errors import UpstreamUnavailable
from hub.settings import HubSettings

__all__ = [
    "backlog_drain",
    "handled",
    "hub_hop",
    "hub_steady",
    "outage_drain",
    "outage_fill",
    "prepare_hub",
]

# The real court connector: each warrant's signature verified as in production (bench.messages)
COURT = dataclasses.replace(court.spec, deliver=None)


def handled(queue: str) -> Counter[str]:
    """Messages the hub settled from `queue` so far, by outcome (ok, retry, dead_letter, ...)."""
    out: Counter[str] = Counter()
    for family in metrics.HANDLED.collect():
        for s in family.samples:
            if s.name.endswith("_total") and s.labels.get("queue") == queue:
                out[s.labels["outcome"]] += int(s.value)
    return out


async def prepare_hub(settings: HubSettings, count: int) -> float:
    """Declare the hub's topology and queue `count` distinct warrants on `hub.court.in`."""
    topology = build_topology(
        settings.units, settings.retry.ladder_s, settings.rabbit.delivery_limit
    )
    broker = make_broker(settings.rabbit)
    await broker.connect()
    try:
        await declare(broker, topology)
    finally:
        await broker.stop()
    return await preload(settings.rabbit.url, HUB, count, WarrantFactory()) if count else 0.0


async def _registered(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
    """BNMP answering at once: the connector's own answer to a registration BNMP accepted."""
    number, _ = document_of(env)
    body = {"id": f"BNMP-{env.message_id.hex[:12]}", "numeroPeca": digits(number)}
    return (answer(env, body, datetime.now(UTC)),)


async def _refused(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
    """BNMP down: every call fails as a connection refused would."""
    raise UpstreamUnavailable("bnmp", "connection refused (bench: BNMP is down)")


BNMP_AT_ONCE = ConnectorSpec("bnmp", frozenset(), deliver=lambda _resources: _registered)
BNMP_DOWN = ConnectorSpec("bnmp", frozenset(), deliver=lambda _resources: _refused)
# The first failure opens the circuit (no message waits on the retry ladder), and no probe
# is made while the backlog builds: the outage lasts until the drain step starts.
_NO_PROBE = CircuitPolicy(threshold=1, probe_every=timedelta(hours=1))


@asynccontextmanager
async def _hub(
    spec: StepSpec, *specs: ConnectorSpec, circuit: CircuitPolicy | None = None
) -> AsyncIterator[tuple[Hub, Probe]]:
    monitor = await asyncpg.connect(spec.settings.postgres.dsn)
    try:
        async with Hub(spec.settings, specs=specs, background=True, circuit=circuit) as hub:
            settle_heap()  # as `python -m hub run` does once started
            yield hub, Probe(monitor, spec)
    finally:
        await monitor.close()


async def _confirmed(hub: Hub, settle_s: float = 3.0) -> int:
    """Outbox rows the broker confirmed (the engine records confirms just after the ack)."""
    sql = (
        "SELECT count(*) FILTER (WHERE confirmed_at IS NOT NULL) AS ok,"
        " count(*) FILTER (WHERE confirmed_at IS NULL) AS pending FROM outbox"
    )
    ok = 0
    for _ in range(int(settle_s / 0.05)):
        row = await hub.pool.fetchrow(sql)
        assert row is not None  # an aggregate always returns one row
        ok = int(row["ok"])
        if not row["pending"]:
            break
        await asyncio.sleep(0.05)
    return ok


def _result(spec: StepSpec, window: Window, published: int, errors: Counter[str]) -> StepResult:
    return StepResult(
        step=spec.step,
        messages=window.messages,
        seconds=round(window.seconds, 3),
        rate=round(window.rate, 1),
        published=published,
        cpu_ms_per_msg=window.cpu_ms_per_msg(),
        peak_rss_mb=round(rss_mb("VmHWM"), 1),
        errors={k: v for k, v in errors.items() if k != "ok" and v},
        extra={"window": window.opened},
    )


def _engine_jobs(hub: Hub) -> Callable[[], int]:
    return lambda: hub.engine.stats.jobs if hasattr(hub, "engine") else 0


async def _drain(
    spec: StepSpec,
    queue: str,
    *specs: ConnectorSpec,
    outcome: str = "ok",
    circuit: CircuitPolicy | None = None,
) -> StepResult:
    """Run a hub until `spec.messages` are done; measure the window, sample RSS throughout.

    Done is counted from the consumer's metrics for `queue` and `outcome`, or, with `queue` set
    to "engine", from the engine's committed jobs (the deferred-backlog drainer has no consumer).
    """
    async with _hub(spec, *specs, circuit=circuit) as (hub, probe):
        done = _engine_jobs(hub) if queue == "engine" else lambda: handled(queue)[outcome]
        sampler = RssSampler(done)
        sampler.start()
        try:
            window = await drain_window(done, spec.messages, probe, timeout_s=spec.timeout_s)
        finally:
            await sampler.stop()
        errors = Counter({"ok": 0}) if queue == "engine" else handled(queue)
        errors.pop(outcome, None)
        result = _result(spec, window, await _confirmed(hub), errors)
    result.rss_samples = sampler.samples
    # Growth once warmed up (second half of the drain): flat means memory does not follow the
    # backlog's size; the whole-run slope also counts the start-up ramp.
    result.rss_slope_mb_per_10k = slope_per_10k(sampler.samples[len(sampler.samples) // 2 :])
    result.extra["rss_slope_whole_run_mb_per_10k"] = slope_per_10k(sampler.samples)
    result.extra["engine"] = {"batches": hub.engine.stats.batches, "jobs": hub.engine.stats.jobs}
    return result


async def hub_hop(spec: StepSpec) -> StepResult:
    """Drain `spec.messages` warrants queued on `hub.court.in` (BNMP's connector is not running)."""
    return await _drain(spec, "hub.court.in", COURT)


async def backlog_drain(spec: StepSpec) -> StepResult:
    """Drain `spec.messages` queued on `hub.bnmp.out` with BNMP back and answering at once."""
    return await _drain(spec, "hub.bnmp.out", COURT, BNMP_AT_ONCE)


async def outage_fill(spec: StepSpec) -> StepResult:
    """Warrants queued on `hub.court.in` flow through while BNMP is down: the circuit opens and
    every delivery to BNMP is deferred to PostgreSQL, in order (done = all deferred)."""
    return await _drain(
        spec, "hub.bnmp.out", COURT, BNMP_DOWN, outcome="deferred", circuit=_NO_PROBE
    )


async def outage_drain(spec: StepSpec) -> StepResult:
    """BNMP is back: the drainer probes, closes the circuit and delivers the deferred backlog."""
    return await _drain(spec, "engine", COURT, BNMP_AT_ONCE)


async def hub_steady(spec: StepSpec) -> StepResult:
    """The hub under a steady offered load; latency from send to arrival on `hub.bnmp.out`."""
    async with _hub(spec, COURT) as (hub, probe):
        result = await offer_load(spec, HUB, probe, lambda: handled("hub.court.in")["ok"])
        result.published = await _confirmed(hub)
        result.extra["engine"] = {
            "batches": hub.engine.stats.batches,
            "jobs": hub.engine.stats.jobs,
        }
    return result
