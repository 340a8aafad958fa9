"""Measuring a drain: the window from the first finished message to the last, its CPU, and memory.

The window opens when the first message is finished (so start-up, connection and the first batch's
fill are not charged to the rate) and closes when the last one is. Rate and CPU per message are
both over that window, for the hub and the baseline alike.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import probes
from bench.profile import PySpy, breakdown
from bench.results import StepSpec

__all__ = ["Probe", "RssSampler", "Window", "drain_window", "percentiles", "slope_per_10k"]

_POLL_S = 0.005


class Probe:
    """The instruments on a measured window: CPU snapshots, and py-spy when profiling.

    CPU is read for this process, the broker and this process's database backends; with
    `profile` set, py-spy samples this process between `open` and `close` and the folded stacks
    and their breakdown are written to `<profile>.folded` and `<profile>.json`.
    """

    def __init__(self, monitor: Any, spec: StepSpec) -> None:
        self._monitor = monitor
        self._beam = spec.broker_pid
        profile = spec.profile
        self._profile = profile
        self._spy = PySpy(os.getpid(), Path(f"{profile}.folded")) if profile else None

    async def snapshot(self) -> probes.CpuSnapshot:
        """CPU counters now."""
        return await probes.snapshot(self._monitor, self._beam)

    async def open(self) -> probes.CpuSnapshot:
        """Start the window: start profiling (if asked), then read the counters."""
        if self._spy is not None:
            await self._spy.start()
        return await self.snapshot()

    async def close(self) -> probes.CpuSnapshot:
        """End the window: read the counters, then stop profiling and write the breakdown."""
        snap = await self.snapshot()
        if self._spy is not None:
            await self._spy.stop()
            _write_breakdown(self._spy.out, Path(f"{self._profile}.json"))
        return snap


def _write_breakdown(folded: Path, out: Path) -> None:
    out.write_text(json.dumps(breakdown(folded), indent=2) + "\n")


@dataclass(frozen=True)
class Window:
    """A measured interval: messages finished in it, its length and the CPU each side spent."""

    messages: int
    seconds: float
    cpu_s: dict[str, float]
    opened: str = "first-finished"

    @property
    def rate(self) -> float:
        """Messages per second over the window."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def cpu_ms_per_msg(self) -> dict[str, float]:
        """CPU milliseconds per message, per side."""
        n = max(self.messages, 1)
        return {side: round(s * 1000 / n, 3) for side, s in self.cpu_s.items()}


async def drain_window(
    done: Callable[[], int], total: int, probe: Probe, *, timeout_s: float
) -> Window:
    """Wait until `done()` reaches `total`; measure from its first increase to then.

    When the first increase already brings more than half of `total` (a tiny run, finished in a
    batch or two), the window is taken from the call instead, start-up included.
    """
    deadline = time.monotonic() + timeout_s
    start, t_start = await probe.open(), time.perf_counter()
    while (n0 := done()) == 0:
        await _tick(deadline, 0, total)
    first, t_first = await probe.snapshot(), time.perf_counter()
    while (n := done()) < total:
        await _tick(deadline, n, total)
    t_end = time.perf_counter()
    end = await probe.close()
    if n0 > total // 2:
        return Window(n, t_end - t_start, end.minus(start), "from-start")
    return Window(n - n0, t_end - t_first, end.minus(first), "first-finished")


async def _tick(deadline: float, n: int, total: int) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"only {n} of {total} messages finished in time")
    await asyncio.sleep(_POLL_S)


@dataclass
class RssSampler:
    """Samples this process's RSS (and how many messages were done) every `every_s` seconds."""

    done: Callable[[], int]
    every_s: float = 0.5
    samples: list[tuple[float, float, int]] = field(default_factory=list)
    _start: float = 0.0
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sampling in the background."""
        self._start = time.perf_counter()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop sampling (one last sample is taken)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._sample()

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self.every_s)

    def _sample(self) -> None:
        t = round(time.perf_counter() - self._start, 3)
        self.samples.append((t, round(probes.rss_mb(), 2), self.done()))


def slope_per_10k(samples: Sequence[tuple[float, float, int]]) -> float | None:
    """Least-squares growth of RSS (MB) per 10,000 messages done, over the samples."""
    pts = [(n, mb) for _, mb, n in samples]
    if len({n for n, _ in pts}) < 3:
        return None
    fit = statistics.linear_regression([n for n, _ in pts], [mb for _, mb in pts])
    return round(fit.slope * 10_000, 3)


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and max of latencies in milliseconds (nearest-rank), and their count."""
    if not values_ms:
        return {"count": 0}
    s = sorted(values_ms)

    def rank(p: float) -> float:
        """The nearest-rank `p`-th percentile."""
        return round(s[min(len(s) - 1, max(0, int(p / 100 * len(s) + 0.5) - 1))], 2)

    return {
        "count": len(s),
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "max": round(s[-1], 2),
    }
