"""A steady offered load against a running system: the generator runs in its own process.

The load generator (`python -m bench.loadgen`) publishes at a fixed rate and consumes the output
queue; it runs in a separate process so that its CPU is not charged to the system under test.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.measure import Probe, RssSampler
from bench.probes import rss_mb
from bench.results import StepResult, StepSpec
from bench.traffic import Target

__all__ = ["offer_load"]


async def _generate(
    spec: StepSpec, target: Target, probe: Probe
) -> tuple[dict[str, Any], dict[str, float], float]:
    with tempfile.TemporaryDirectory(prefix="bench-loadgen-") as tmp:
        out = Path(tmp) / "result.json"
        job = {
            "url": spec.settings.rabbit.url,
            "target": asdict(target),
            "rate": spec.rate,
            "duration_s": spec.duration_s,
            "warmup_s": spec.warmup_s,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.loadgen",
            json.dumps(job),
            str(out),
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        await proc.stdout.readline()  # "sending": connected, about to publish
        before, t0 = await probe.open(), time.perf_counter()
        await proc.wait()
        seconds = time.perf_counter() - t0
        cpu = (await probe.close()).minus(before)
        if proc.returncode != 0:
            raise RuntimeError(f"load generator exited with {proc.returncode}")
        return json.loads(out.read_text()), cpu, seconds


async def offer_load(
    spec: StepSpec, target: Target, probe: Probe, done: Callable[[], int]
) -> StepResult:
    """Offer `spec.rate` msg/s for `spec.duration_s` to `target`; latency and CPU per message."""
    sampler = RssSampler(done)
    sampler.start()
    try:
        gen, cpu, seconds = await _generate(spec, target, probe)
    finally:
        await sampler.stop()
    n = max(int(gen["received"]), 1)
    return StepResult(
        step=spec.step,
        messages=int(gen["received"]),
        seconds=round(seconds, 3),
        rate=gen["achieved_rate"],
        latency_ms=gen["latency_ms"],
        cpu_ms_per_msg={side: round(s * 1000 / n, 3) for side, s in cpu.items()},
        peak_rss_mb=round(rss_mb("VmHWM"), 1),
        errors={"lost": int(gen["sent"]) - int(gen["received"])}
        if gen["sent"] != gen["received"]
        else {},
        extra={
            "offered_rate": spec.rate,
            "sent": gen["sent"],
            "generator_lag_ms": gen["generator_lag_ms"],
            "first_5pct_p50_ms": gen["first_5pct_p50_ms"],
            "last_5pct_p50_ms": gen["last_5pct_p50_ms"],
            "warmup_s": spec.warmup_s,
        },
    )
