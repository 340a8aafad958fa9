"""Rounds of scenarios, and what is reported: medians over rounds, ratios taken within each round.

The machine is shared, so absolute rates drift; a ratio between two scenarios of the same round
(minutes apart) is the figure to trust, and the median over rounds damps the noise further. Within
a round, the baseline and the hub one-hop run back to back, in alternating order. The two 50,000-
message scenarios (backlog, outage) run in the first `heavy_rounds` rounds only.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from bench.options import HEAVY_SCENARIOS, Options
from bench.plan import scenario
from bench.results import StepResult
from hub.settings import HubSettings

__all__ = ["RATIOS", "TARGETS", "ratios", "run_rounds", "summarise"]

# (name, numerator scenario, denominator scenario): each computed within a round.
RATIOS: tuple[tuple[str, str, str], ...] = (
    ("hub-hop / baseline", "hub-hop", "baseline"),
    ("backlog drain / hub-hop", "backlog", "hub-hop"),
    ("outage drain / hub-hop", "outage", "hub-hop"),
)
# What a good design reaches on 2 cores (the targets in bench/README.md).
TARGETS = {
    "hub-hop / baseline": ">= 1.0",
    "backlog drain / hub-hop": ">= 0.8",
    "outage drain / hub-hop": ">= 0.8",
    "steady-300 p99 ms": "< 25",
    "backlog RSS growth MB per 10k msgs": "flat (~0)",
}

Progress = Callable[[str], None]


def _order(names: Sequence[str], round_: int, heavy_rounds: int) -> list[str]:
    out = [n for n in names if round_ < heavy_rounds or n not in HEAVY_SCENARIOS]
    if round_ % 2 == 1 and "baseline" in out and "hub-hop" in out:
        i, j = out.index("baseline"), out.index("hub-hop")
        out[i], out[j] = out[j], out[i]
    return out


async def run_rounds(
    opts: Options, base: HubSettings, progress: Progress
) -> list[dict[str, StepResult]]:
    """Run every scenario once per round; return each round's results by scenario name."""
    rounds: list[dict[str, StepResult]] = []
    for r in range(opts.repeat):
        results: dict[str, StepResult] = {}
        for name in _order(opts.scenarios, r, opts.heavy_rounds):
            progress(f"round {r + 1}/{opts.repeat}: {name} ...")
            results[name] = await scenario(name).run(opts, base, None)
            progress(f"  {_brief(results[name])}")
        rounds.append(results)
    return rounds


def _brief(r: StepResult) -> str:
    if r.skipped:
        return f"skipped: {r.skipped}"
    lat = f", p99 {r.latency_ms.get('p99')} ms" if r.latency_ms else ""
    unit = "orders" if r.extra.get("unit") == "orders" else "msgs"
    per_s = "orders/s" if unit == "orders" else "msg/s"
    return f"{r.messages} {unit} in {r.seconds:.2f} s = {r.rate:.1f} {per_s}{lat}"


def ratios(rounds: Sequence[dict[str, StepResult]]) -> dict[str, dict[str, Any]]:
    """Each ratio per round, and its median."""
    out: dict[str, dict[str, Any]] = {}
    for label, num, den in RATIOS:
        per_round = [
            round(r[num].rate / r[den].rate, 3)
            for r in rounds
            if num in r and den in r and r[den].rate > 0
        ]
        if per_round:
            out[label] = {"median": statistics.median(per_round), "per_round": per_round}
    return out


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def _row(name: str, runs: Sequence[StepResult]) -> dict[str, Any]:
    measured = [r for r in runs if not r.skipped]
    if not measured:
        return {"scenario": name, "skipped": runs[0].skipped}
    lat = [r.latency_ms or {} for r in measured]
    sides = ("app", "rabbitmq", "postgres")
    return {
        "scenario": name,
        "unit": measured[0].extra.get("unit", "messages"),
        "messages": _median([r.messages for r in measured]),
        "seconds": _median([r.seconds for r in measured]),
        "rate": _median([r.rate for r in measured]),
        "latency_ms": {p: _median([x.get(p) for x in lat]) for p in ("p50", "p95", "p99")},
        "cpu_ms_per_msg": {s: _median([r.cpu_ms_per_msg.get(s) for r in measured]) for s in sides},
        "peak_rss_mb": _median([r.peak_rss_mb for r in measured]),
        "rss_slope_mb_per_10k": _median([r.rss_slope_mb_per_10k for r in measured]),
        "errors": sum(sum(r.errors.values()) for r in measured),
    }


def summarise(
    rounds: Sequence[dict[str, StepResult]], names: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per scenario: medians over the rounds."""
    return [_row(n, [r[n] for r in rounds if n in r]) for n in names]
