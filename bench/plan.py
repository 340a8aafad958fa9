"""The scenarios: each gets its own vhost and schema and runs its measured steps in new processes.

Preparing (declaring queues, queueing a backlog) happens here, in the orchestrating process, before
any measurement; the system under test then runs in a worker process of its own (`bench.worker`).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.messages import WarrantFactory
from bench.options import Options
from bench.results import StepResult, StepSpec
from bench.sandbox import sandbox
from bench.scenarios.baseline import prepare_baseline
from bench.scenarios.flow import flow_settings
from bench.scenarios.hub import prepare_hub
from bench.traffic import BASELINE, preload
from hub.settings import HubSettings, revealed_json

__all__ = ["SCENARIOS", "Scenario", "StepFailed", "run_step", "scenario"]

_LOG_TAIL = 3000


class StepFailed(RuntimeError):
    """A worker process failed; the message carries the end of its log."""


@dataclass(frozen=True)
class Scenario:
    """A named scenario and how to run it once (one round)."""

    name: str
    description: str
    run: Callable[[Options, HubSettings, str | None], Awaitable[StepResult]]


async def run_step(spec: StepSpec, timeout_s: float) -> StepResult:
    """Run one step in a fresh `python -m bench.worker` process and return what it measured."""
    with tempfile.TemporaryDirectory(prefix="bench-step-") as tmp:
        spec_file, result_file, log_file = (Path(tmp) / n for n in ("spec", "result", "log"))
        spec_file.write_text(revealed_json(spec))  # secrets in clear: the worker needs them
        with log_file.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.worker",
                str(spec_file),
                str(result_file),
                stdout=log,
                stderr=log,
            )
            try:
                code = await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                code = -9
        if code != 0:
            tail = log_file.read_text(errors="replace")[-_LOG_TAIL:]
            raise StepFailed(f"step {spec.step} exited with {code}:\n{tail}")
        return StepResult.model_validate_json(result_file.read_text())


def _spec(step: str, settings: HubSettings, opts: Options, **kw: object) -> StepSpec:
    return StepSpec.model_validate(
        {
            "step": step,
            "settings": settings,
            "timeout_s": opts.step_timeout_s,
            "broker_pid": opts.broker_pid,
            **kw,
        }
    )


async def _baseline(opts: Options, base: HubSettings, profile: str | None) -> StepResult:
    async with sandbox(base) as box:
        await prepare_baseline(box.settings)
        await preload(box.settings.rabbit.url, BASELINE, opts.messages, WarrantFactory())
        spec = _spec("baseline", box.settings, opts, messages=opts.messages, profile=profile)
        return await run_step(spec, opts.step_timeout_s)


async def _hub_hop(opts: Options, base: HubSettings, profile: str | None) -> StepResult:
    async with sandbox(base) as box:
        await prepare_hub(box.settings, opts.messages)
        spec = _spec("hub-hop", box.settings, opts, messages=opts.messages, profile=profile)
        return await run_step(spec, opts.step_timeout_s)


async def _fill_then_drain(
    opts: Options, base: HubSettings, profile: str | None, fill_step: str, drain_step: str, n: int
) -> StepResult:
    """Run `fill_step` to build a backlog of `n`, then measure `drain_step` draining it."""
    async with sandbox(base) as box:
        await prepare_hub(box.settings, n)
        fill = await run_step(_spec(fill_step, box.settings, opts, messages=n), opts.step_timeout_s)
        spec = _spec(drain_step, box.settings, opts, messages=n, profile=profile)
        drain = await run_step(spec, opts.step_timeout_s)
    drain.extra["fill"] = fill.model_dump(include={"messages", "seconds", "rate", "peak_rss_mb"})
    return drain


async def _backlog(opts: Options, base: HubSettings, profile: str | None) -> StepResult:
    """Warrants arrive while BNMP's connector is down, then BNMP returns and the hub drains."""
    return await _fill_then_drain(opts, base, profile, "hub-hop", "backlog-drain", opts.backlog)


async def _outage(opts: Options, base: HubSettings, profile: str | None) -> StepResult:
    """BNMP down while the hub runs: deliveries deferred to PostgreSQL, then drained in order."""
    return await _fill_then_drain(opts, base, profile, "outage-fill", "outage-drain", opts.outage)


def _steady(step: str, rate: float) -> Callable[..., Awaitable[StepResult]]:
    async def run(opts: Options, base: HubSettings, profile: str | None) -> StepResult:
        """One steady-load step in a fresh vhost and schema."""
        async with sandbox(base) as box:
            if step == "hub-steady":
                await prepare_hub(box.settings, 0)
            else:
                await prepare_baseline(box.settings)
            spec = _spec(
                step,
                box.settings,
                opts,
                rate=rate,
                duration_s=opts.duration_s,
                warmup_s=opts.warmup_s,
                profile=profile,
            )
            return await run_step(spec, opts.step_timeout_s)

    return run


async def _flow(opts: Options, base: HubSettings, profile: str | None) -> StepResult:
    """Whole release-order flows: the hub with its four connectors, the simulators answering."""
    async with sandbox(base) as box:
        await prepare_hub(box.settings, 0)  # the topology; the units consume from their queues
        settings = flow_settings(box.settings)
        spec = _spec(
            "flow", settings, opts, messages=opts.orders, in_flight=opts.in_flight, profile=profile
        )
        return await run_step(spec, opts.step_timeout_s)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("baseline", "raw aio-pika, one hop, prefetch 256", _baseline),
        Scenario("hub-hop", "the hub, one hop with everything it does", _hub_hop),
        Scenario("backlog", "BNMP connector stopped, then drains hub.bnmp.out", _backlog),
        Scenario("outage", "BNMP down, hub up: deferred to PostgreSQL, then drained", _outage),
        Scenario("flow", "whole release-order flows, four connectors (orders/s)", _flow),
    )
}


def scenario(name: str) -> Scenario:
    """The scenario called `name`; `steady-<rate>` and `baseline-steady-<rate>` for any rate."""
    if name in SCENARIOS:
        return SCENARIOS[name]
    for prefix, step in (("baseline-steady-", "baseline-steady"), ("steady-", "hub-steady")):
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            rate = float(name[len(prefix) :])
            who = "raw aio-pika" if step == "baseline-steady" else "the hub"
            return Scenario(name, f"{who} at {rate:g} msg/s offered", _steady(step, rate))
    raise KeyError(f"unknown scenario {name!r}")
