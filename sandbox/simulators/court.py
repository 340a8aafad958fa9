"""A court system stand-in on loopback: it takes the hub's signed webhooks and records them.

A notification with a bad signature, or one signed more than five minutes away from now, is
refused (401). Notifications are deduplicated by
`X-Hub-Message-Id`, as a court system should; `effects` counts distinct notifications per kind.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Request

from connectors.court.mapping import verify
from sandbox.simkit import Effects, Faults, install

__all__ = ["CourtSimulator", "create_app"]


class CourtSimulator:
    """What the court's system received."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.faults = Faults()
        self.effects = Effects()
        self.by_kind: Counter[str] = Counter()
        self.notifications: list[dict[str, Any]] = []
        self.forged = 0


def create_app(sim: CourtSimulator) -> FastAPI:
    """The simulator as an ASGI app."""
    app = FastAPI(title="court system simulator")
    install(app, sim.faults, sim.effects)

    @app.post("/notifications", status_code=204)
    async def notify(
        request: Request,
        x_hub_signature: Annotated[str | None, Header()] = None,
        x_hub_message_id: Annotated[str | None, Header()] = None,
    ) -> None:
        body = await request.body()
        if not verify(sim.secret, body, x_hub_message_id, x_hub_signature, time.time()):
            sim.forged += 1
            raise HTTPException(401, "bad signature")
        if sim.effects.record(x_hub_message_id or body.hex()):
            doc = json.loads(body)
            sim.by_kind[doc["kind"]] += 1
            sim.notifications.append(doc)

    @app.get("/_sim/notifications")
    async def received() -> dict[str, Any]:
        return {"by_kind": dict(sim.by_kind), "forged": sim.forged}

    return app
