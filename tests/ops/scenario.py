"""A real hub with a fake BNMP, its ops service and an API client, for the ops tests."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid4, uuid5

import httpx

from connectors import court
from contracts import (
    BnmpDocumentType,
    BnmpRegistrationCompleted,
    Envelope,
    ReleaseOrderIssued,
    Source,
)
from contracts.envelope import AnyPayload
from hub.app import Hub
from hub.connector import ConnectorSpec
from hub.errors import UpstreamRejected
from hub.ops import OpsService, create_app
from hub.ops.service import Probe
from hub.settings import HubSettings, OpsSettings, OpsUser
from tests.factories import PROCESS, make_envelope, make_release_order
from tests.integration.harness import amqp, database, send

__all__ = [
    "ADMIN",
    "ADMIN2",
    "METRICS",
    "OPERATOR",
    "VIEWER",
    "FakeBnmp",
    "Running",
    "ops_settings_of",
    "order_number",
    "publish",
    "release_orders",
    "running",
]

TOKENS = {
    "t-viewer": OpsUser(user="vera", role="viewer"),
    "t-operator": OpsUser(user="otto", role="operator"),
    "t-admin": OpsUser(user="ada", role="admin"),
    "t-admin2": OpsUser(user="bea", role="admin"),
}
VIEWER = {"Authorization": "Bearer t-viewer"}
OPERATOR = {"Authorization": "Bearer t-operator"}
ADMIN = {"Authorization": "Bearer t-admin"}
ADMIN2 = {"Authorization": "Bearer t-admin2"}  # the second pair of eyes
METRICS = {"Authorization": "Bearer t-prometheus"}

# The real court connector (signatures verified, authority from its key), without its webhook
COURT = dataclasses.replace(court.spec, deliver=None)
BNMP_SOURCE = Source(connector="bnmp", system="BNMP3")


def ops_settings_of(settings: HubSettings, **changes: Any) -> HubSettings:
    """The test settings with ops tokens and a fast, small replay pace."""
    ops = OpsSettings(
        tokens=TOKENS,
        metrics_tokens=("t-prometheus",),
        replay_rate_per_s=50,
        replay_canary_timeout_s=10,
        replay_settle_s=5,
        replay_max_failures=2,
        probe_every_s=60,
    )
    return settings.model_copy(update={"ops": ops.model_copy(update=changes)})


def order_number(seq: int) -> str:
    """A release order number of the default process."""
    return f"{PROCESS}.{seq:04d}"


def registered(env: Envelope) -> tuple[Envelope, ...]:
    """What BNMP answers when it registers the release order in `env`."""
    result = BnmpRegistrationCompleted(
        document_number=env.correlation_id,
        document_type=BnmpDocumentType.RELEASE_ORDER,
        bnmp_id="BNMP-42",
        registered_at=datetime.now(UTC),
    )
    mid = uuid5(NAMESPACE_URL, f"bnmp:{env.message_id}")
    reply = Envelope.new(
        result,
        source=BNMP_SOURCE,
        correlation_id=env.correlation_id,
        causation_id=env.message_id,
        message_id=mid,
    )
    return (reply,)


@dataclass
class Call:
    """One delivery BNMP received."""

    kind: str
    subject: str
    headers: dict[str, Any]
    started: float
    ended: float = 0.0
    refused: bool = False


@dataclass
class FakeBnmp:
    """BNMP that refuses what `refuse` says (all by default) and registers release orders."""

    refuse: Callable[[Envelope], bool] = lambda env: True
    calls: list[Call] = field(default_factory=list)

    async def deliver(
        self, env: Envelope, headers: Mapping[str, Any] | None = None
    ) -> tuple[Envelope, ...]:
        """Take one delivery from the hub."""
        call = Call(env.kind, env.correlation_id, dict(headers or {}), time.monotonic())
        self.calls.append(call)
        try:
            if self.refuse(env):
                call.refused = True
                raise UpstreamRejected(f"bnmp refused {env.kind}: missing judge signature")
            return registered(env) if isinstance(env.payload, ReleaseOrderIssued) else ()
        finally:
            call.ended = time.monotonic()

    def spec(self) -> ConnectorSpec:
        """The BNMP connector with this fake as its delivery."""
        return ConnectorSpec("bnmp", frozenset(), deliver=lambda _resources: self.deliver)

    def accept_all(self) -> None:
        """BNMP is fixed: from now on it accepts everything."""
        self.refuse = lambda env: False


@dataclass
class Running:
    """A running hub, its ops service and an HTTP client on the ops app."""

    hub: Hub
    ops: OpsService
    client: httpx.AsyncClient
    settings: HubSettings

    async def parked(self, count: int = 1) -> list[dict[str, Any]]:
        """The parked dead letters, once there are `count` of them (else an empty list)."""
        async with database(self.settings) as db:
            rows = await db.fetch("SELECT * FROM dead_letters WHERE status = 'parked' ORDER BY id")
        return [dict(r) for r in rows] if len(rows) >= count else []

    async def audit(self, action: str) -> list[dict[str, Any]]:
        """Audit entries of `action`, in order."""
        async with database(self.settings) as db:
            rows = await db.fetch(
                "SELECT actor, action, subject, detail FROM audit_log WHERE action = $1"
                " ORDER BY seq",
                action,
            )
        return [dict(r) for r in rows]


@asynccontextmanager
async def running(
    settings: HubSettings,
    bnmp: FakeBnmp | None = None,
    probes: Mapping[str, Probe] | None = None,
) -> AsyncIterator[Running]:
    """Start a hub (court + optional fake BNMP), its ops service and an API client."""
    specs = [COURT] + ([bnmp.spec()] if bnmp else [])
    async with Hub(settings, specs=specs, background=False) as hub:
        ops = OpsService.from_hub(hub, probes=probes)
        transport = httpx.ASGITransport(app=create_app(ops))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://ops") as client:
                yield Running(hub, ops, client, settings)
        finally:
            await ops.aclose()


async def publish(settings: HubSettings, exchange: str, *payloads: AnyPayload | bytes) -> None:
    """Send messages as the external systems do, each with its own message id."""
    async with amqp(settings) as channel:
        for payload in payloads:
            body = (
                payload
                if isinstance(payload, bytes)
                else make_envelope(payload, message_id=uuid4())
            )
            await send(channel, exchange, body)


def release_orders(*seqs: int) -> list[ReleaseOrderIssued]:
    """Release orders of the default process, numbered `seqs`."""
    return [make_release_order(order_number=order_number(s)) for s in seqs]
