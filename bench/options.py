"""The bench's knobs, as one value built by the command line and passed down."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_SCENARIOS", "HEAVY_SCENARIOS", "Options"]

HEAVY_SCENARIOS = ("backlog", "outage", "flow")
DEFAULT_SCENARIOS = (
    "baseline",
    "hub-hop",
    "backlog",
    "outage",
    "steady-100",
    "steady-300",
    "steady-1000",
    "baseline-steady-100",
    "baseline-steady-300",
    "baseline-steady-1000",
    "flow",
)


@dataclass(frozen=True)
class Options:
    """How much to run: message counts, offered rates and durations, rounds, where results go."""

    messages: int = 20_000
    backlog: int = 50_000
    outage: int = 50_000
    orders: int = 2_000  # whole-flow scenario: release orders taken from issue to certified
    in_flight: int = 25  # whole-flow scenario: orders open at once (closed loop)
    duration_s: float = 20.0
    warmup_s: float = 2.0
    repeat: int = 3
    heavy_rounds: int = 1  # rounds that run the backlog, outage and flow scenarios (minutes each)
    scenarios: tuple[str, ...] = DEFAULT_SCENARIOS
    out: Path = Path("bench/results/latest.json")
    profile: bool = False
    step_timeout_s: float = 900.0
    broker_pid: int | None = None

    @classmethod
    def quick(cls, messages: int, out: Path, scenarios: tuple[str, ...]) -> Options:
        """A CI-sized run: one round, small counts, short steady phases."""
        return cls(
            messages=messages,
            backlog=messages,
            outage=messages,
            orders=100,
            duration_s=3.0,
            warmup_s=0.5,
            repeat=1,
            scenarios=scenarios,
            out=out,
            step_timeout_s=120.0,
        )
