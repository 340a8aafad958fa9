"""The values passed between the bench's processes: what a step is asked to do, what it measured."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hub.settings import HubSettings

__all__ = ["StepResult", "StepSpec"]


class StepSpec(BaseModel):
    """One step of a scenario, run in a fresh process: which step, where, and how much."""

    step: str
    settings: HubSettings
    messages: int = 0
    rate: float = 0.0
    in_flight: int = 0  # the whole-flow scenario: orders open at once (closed loop)
    duration_s: float = 0.0
    warmup_s: float = 0.0
    profile: str | None = None
    timeout_s: float = 600.0
    broker_pid: int | None = None


class StepResult(BaseModel):
    """What a measured step saw; rates and CPU are over the measured window only."""

    step: str
    messages: int = 0
    seconds: float = 0.0
    rate: float = 0.0
    published: int = 0
    latency_ms: dict[str, float] | None = None
    cpu_ms_per_msg: dict[str, float] = Field(default_factory=dict)
    peak_rss_mb: float = 0.0
    rss_samples: list[tuple[float, float, int]] = Field(default_factory=list)
    rss_slope_mb_per_10k: float | None = None
    errors: dict[str, int] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    skipped: str | None = None
