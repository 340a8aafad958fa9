"""What the fault suite sets up around the hub: its processes' settings and environment, the
vhost, the external systems' fault switches, and patient polling."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel

from hub.settings import HubSettings, revealed_json
from sandbox.faults.services import PrivateServices
from sandbox.simulate import SimWorld

__all__ = ["LADDER_S", "fresh_vhost", "hub_env", "poll", "set_window", "suite_settings"]

LADDER_S: Final = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)
_UNIT_SLOW_S: Final = 0.5
_SLOW_MS: Final = 800  # under the hub's 2 s timeout
_ERROR_RATE: Final = 0.3


def hub_env(settings: HubSettings) -> dict[str, str]:
    """The environment of a hub process: this one's without its HUB_*, plus `settings` as JSON.

    Each section goes whole (`HUB_RABBIT='{...}'`, `HUB_SECURITY='{...}'`, ...), so a setting added
    to the hub later reaches the processes without a change here.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    for name, value in settings:
        key = f"HUB_{name.upper()}"
        if isinstance(value, BaseModel):
            env[key] = revealed_json(value)
        else:
            env[key] = value if isinstance(value, str) else json.dumps(value)
    return env


def suite_settings(
    world_settings: HubSettings, services: PrivateServices, schema: str
) -> HubSettings:
    """The hub's settings in the suite: private services, short timeouts and a longer ladder."""
    s = world_settings
    return s.model_copy(
        update={
            "demo": True,  # the suite's world: its broker login and secrets are the demo's
            "rabbit": s.rabbit.model_copy(update={"management_url": services.management_url}),
            "postgres": s.postgres.model_copy(update={"dsn": services.dsn, "schema_": schema}),
            "bnmp": s.bnmp.model_copy(update={"poll_every_s": 0.5, "timeout_s": 2.0}),
            "setarim": s.setarim.model_copy(update={"timeout_s": 2.0}),
            "court": s.court.model_copy(update={"timeout_s": 2.0}),
            "retry": s.retry.model_copy(update={"ladder_s": LADDER_S}),
            "engine": s.engine.model_copy(update={"outbox_sweep_s": 0.5, "outbox_grace_s": 2.0}),
        }
    )


async def fresh_vhost(management_url: str, vhost: str) -> None:
    """Delete and create `vhost`, with every permission for guest."""
    parts = urlsplit(management_url)
    base = f"{parts.scheme}://{parts.hostname}:{parts.port}/api"
    async with httpx.AsyncClient(base_url=base, auth=("guest", "guest"), timeout=30) as api:
        name = quote(vhost, safe="")
        await api.delete(f"/vhosts/{name}")
        (await api.put(f"/vhosts/{name}")).raise_for_status()
        perms = {"configure": ".*", "write": ".*", "read": ".*"}
        (await api.put(f"/permissions/{name}/guest", json=perms)).raise_for_status()


async def poll(
    condition: Callable[[], Awaitable[bool]], within_s: float, every_s: float = 0.5
) -> bool:
    """Poll `condition` (errors count as "not yet") until true or `within_s` has passed."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if await condition():
                return True
        except Exception:  # a service the suite restarts may not answer yet
            pass
        await asyncio.sleep(every_s)
    return False


def set_window(world: SimWorld, action: str, *, on: bool) -> None:
    """Switch a window fault on or off in the simulators."""
    system, kind = action.split("_", 1)
    if system == "units":
        world.units.faults.slow_s = _UNIT_SLOW_S if on else 0.0
        return
    faults = {"bnmp": world.bnmp.faults, "setarim": world.setarim.faults}.get(system)
    faults = faults or world.court.faults
    match kind:
        case "down":
            faults.down = on
        case "slow":
            faults.slow_ms = _SLOW_MS if on else 0
        case "garbage":
            faults.malformed = on
        case "timeout":
            faults.timeout = on
        case "errors":
            faults.error_rate = _ERROR_RATE if on else 0.0
