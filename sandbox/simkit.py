"""Shared by the simulators (not a connector): fault injection and effect counting.

Each simulator is a real HTTP server on loopback. `POST /_sim/faults` sets what goes wrong: down
(connection-level 503 for every call), slow (added latency), a share of 5xx answers, timeouts (sleep
past the client's timeout) and malformed answers. `GET /_sim/stats` returns what the simulator saw.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, Field

__all__ = ["Effects", "Faults", "install"]


class Faults(BaseModel):
    """What the simulator does wrong, until told otherwise."""

    down: bool = False
    slow_ms: int = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    timeout: bool = False
    malformed: bool = False


@dataclass
class Effects:
    """Effects keyed on business id: `attempts` counts calls; distinct keys are the effects."""

    attempts: Counter[str] = field(default_factory=Counter)
    order: list[str] = field(default_factory=list)
    calls: int = 0
    failed: int = 0

    def record(self, key: str) -> bool:
        """Count a call for `key`; return True when it is the first (a new effect)."""
        self.attempts[key] += 1
        if self.attempts[key] == 1:
            self.order.append(key)
            return True
        return False

    def summary(self) -> dict[str, object]:
        """What a test or the demo checks: effects, duplicates attempted, calls, failures."""
        return {
            "effects": len(self.attempts),
            "duplicate_attempts": sum(n - 1 for n in self.attempts.values()),
            "calls": self.calls,
            "failed": self.failed,
            "order": list(self.order),
        }


def _middleware(app: FastAPI, faults: Faults, effects: Effects) -> None:
    @app.middleware("http")
    async def inject(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.url.path.startswith("/_sim"):
            return await call_next(request)
        effects.calls += 1
        if faults.slow_ms:
            await asyncio.sleep(faults.slow_ms / 1000)
        if faults.timeout:
            await asyncio.sleep(30)
        if faults.down or random.random() < faults.error_rate:  # a simulation, not security
            effects.failed += 1
            return Response("simulated outage", status_code=503)
        if faults.malformed:
            effects.failed += 1
            return Response(
                "<html>proxy error</html>", status_code=200, media_type="application/json"
            )
        return await call_next(request)


def install(app: FastAPI, faults: Faults, effects: Effects) -> None:
    """Add the fault middleware, `/health` and the `/_sim` endpoints to a simulator app."""
    _middleware(app, faults, effects)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/_sim/faults")
    async def set_faults(new: Faults) -> Faults:
        for name, value in new.model_dump().items():
            setattr(faults, name, value)
        return faults

    @app.get("/_sim/stats")
    async def stats() -> dict[str, object]:
        return effects.summary()
