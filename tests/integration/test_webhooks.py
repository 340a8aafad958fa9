"""Court notifications go to that court's own system, signed with its own secret; a court with no
webhook gets its notifications held (dead-lettered `no_webhook`), never sent to another court."""

from __future__ import annotations

import secrets
import uuid

import aio_pika
from pydantic import SecretStr

from connectors import court
from hub.app import Hub
from hub.domain.topology import out_queue
from hub.http.server import HttpServer
from hub.settings import CourtWebhook, HubSettings
from sandbox.simulators.court import CourtSimulator, create_app
from tests.factories import make_envelope, make_receipt

from .harness import amqp, database, wait_for

SPECS = (court.spec,)


async def _notify(settings: HubSettings, issuing_court: str) -> str:
    """A notification for `issuing_court`, as the hub itself routes it to hub.court.out."""
    env = make_envelope(make_receipt(), message_id=uuid.uuid4())
    async with amqp(settings) as ch:
        await ch.default_exchange.publish(
            aio_pika.Message(
                env.to_bytes(),
                message_id=str(env.message_id),
                user_id=settings.rabbit.login,  # the hub's own message: its x-hub-* are believed
                headers={"x-hub-court": issuing_court, "x-hub-kind": env.kind},
            ),
            routing_key=out_queue("court"),
        )
    return str(env.message_id)


async def test_each_court_is_notified_on_its_own_system_or_held(settings: HubSettings) -> None:
    """TJPE's system (its own secret) gets TJPE's notification, verified; TJMG has no webhook:
    its notification is dead-lettered `no_webhook` and reaches no court's system."""
    tjpe = CourtSimulator(secrets.token_urlsafe(24))
    server = HttpServer(create_app(tjpe))
    await server.start()
    try:
        hook = CourtWebhook(url=f"{server.url}/notifications", secret=SecretStr(tjpe.secret))
        s = settings.model_copy(
            update={"court": settings.court.model_copy(update={"webhooks": {"tjpe.*": hook}})}
        )
        async with Hub(s, specs=SPECS, background=False):
            held = await _notify(s, "tjmg.vep-bh")
            await _notify(s, "tjpe.vara-1")

            async def settled() -> object:
                async with database(s) as db:
                    letters = await db.fetch(
                        "SELECT message_id::text AS id, reason FROM dead_letters"
                    )
                return tjpe.by_kind and letters

            letters = await wait_for(settled, what="one notified, one held")
    finally:
        await server.stop()
    assert [(r["id"], r["reason"]) for r in letters] == [(held, "no_webhook")]
    assert dict(tjpe.by_kind) == {"custodial_unit.receipt.acknowledged": 1}
    assert tjpe.forged == 0  # signed with TJPE's secret, within the window
