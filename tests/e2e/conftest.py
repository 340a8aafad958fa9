"""The whole hub with its four simulated external systems, on the test's own vhost and schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from contracts import Envelope, ReleaseOrderIssued, WarrantIssued, format_cnj
from hub.app import Hub
from hub.domain.circuit import CircuitPolicy
from hub.settings import HubSettings
from sandbox.simulate import SimWorld
from tests.factories import CPF, make_envelope, make_release_order, make_warrant
from tests.integration.harness import amqp, database, send, wait_for

FAST_PROBE = CircuitPolicy(threshold=3, probe_every=timedelta(seconds=0.3))


@dataclass
class E2E:
    """The running hub, the simulators, and helpers to drive them."""

    hub: Hub
    world: SimWorld
    settings: HubSettings

    async def court_sends(self, payload: Any, **overrides: Any) -> Envelope:
        """A court system publishes a document to the hub over AMQP, signed with its key."""
        env = make_envelope(payload, message_id=uuid4(), occurred_at=datetime.now(UTC), **overrides)
        signature = self.world.court_signer.headers(env.to_bytes())
        async with amqp(self.settings) as ch:
            await send(ch, "hub.court.in", env, headers=signature)
        return env

    async def order_state(self, number: str) -> str | None:
        """The hub's state of a release order."""
        async with database(self.settings) as db:
            return await db.fetchval(  # type: ignore[no-any-return]
                "SELECT state FROM release_orders WHERE order_number = $1", number
            )

    async def warrant_state(self, number: str) -> str | None:
        """The hub's state of a warrant."""
        async with database(self.settings) as db:
            return await db.fetchval(  # type: ignore[no-any-return]
                "SELECT state FROM warrants WHERE warrant_number = $1", number
            )

    async def until_order(self, number: str, state: str, within: float = 45) -> None:
        """Wait until the order reaches `state`."""

        async def reached() -> bool:
            return await self.order_state(number) == state

        await wait_for(reached, within=within, what=f"order {number} {state}")

    async def until_warrant(self, number: str, state: str, within: float = 45) -> None:
        """Wait until the warrant reaches `state`."""

        async def reached() -> bool:
            return await self.warrant_state(number) == state

        await wait_for(reached, within=within, what=f"warrant {number} {state}")

    async def fetch(self, sql: str, *args: Any) -> Any:
        """One value from the hub's database."""
        async with database(self.settings) as db:
            return await db.fetchval(sql, *args)


def order(i: int, **overrides: Any) -> ReleaseOrderIssued:
    """Release order number `i`, issued now, covering warrant `i` of its own process."""
    process = format_cnj(2000 + i, 2024, 8, 13, 24)
    now = datetime.now(UTC)
    fields = {
        "order_number": f"{process}.0002",
        "process_number": process,
        "covered_warrants": (f"{process}.0001",),
        "issued_at": now,
        "signed_at": now,
    }
    return make_release_order(**(fields | overrides))


def warrant(i: int, seq: int = 1, **overrides: Any) -> WarrantIssued:
    """Warrant `seq` of process `i`, issued now, for the factories' person (CPF)."""
    process = format_cnj(2000 + i, 2024, 8, 13, 24)
    now = datetime.now(UTC)
    fields = {
        "warrant_number": f"{process}.{seq:04d}",
        "process_number": process,
        "issued_at": now,
        "signed_at": now,
        "valid_until": (now + timedelta(days=365)).date(),
    }
    return make_warrant(**(fields | overrides))


@pytest.fixture
async def e2e(settings: HubSettings) -> AsyncIterator[E2E]:
    """Simulators up, the hub with every connector up, the units connected."""
    settings = settings.model_copy(
        update={
            "bnmp": settings.bnmp.model_copy(update={"poll_every_s": 0.2, "timeout_s": 2}),
            "setarim": settings.setarim.model_copy(update={"timeout_s": 2}),
        }
    )
    world = SimWorld(settings)
    await world.start_http()
    hub_settings = world.hub_settings()
    hub = Hub(hub_settings, circuit=FAST_PROBE)
    await hub.start()
    await world.start_units()
    try:
        yield E2E(hub, world, hub_settings)
    finally:
        await world.stop()
        await hub.stop()


__all__ = ["CPF", "E2E", "order", "warrant"]
