"""The BNMP connector: register what the hub sends to `hub.bnmp.out`; poll BNMP for changes.

Registering is idempotent on the document number (BNMP answers 409 with the existing id), so a
delivery made twice (a crash before the ack) still registers the document once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import structlog

from connectors.bnmp.client import BnmpClient
from connectors.bnmp.mapping import change_events, registered, to_peca
from contracts import Envelope, Source
from hub.connector import ConnectorSpec, Deliver, Resources
from hub.domain.outgoing import Outgoing
from hub.domain.topology import in_queue

__all__ = ["ACCEPTS", "SOURCE", "make_deliver", "poll_changes", "probe", "spec"]

log = structlog.get_logger("connectors.bnmp")

SOURCE = Source(connector="bnmp", system="BNMP3")
ACCEPTS = frozenset({"bnmp.warrant.complied", "bnmp.warrant.expired"})


def _client(resources: Resources) -> BnmpClient:
    return BnmpClient(resources.settings.bnmp, resources.http)


def make_deliver(resources: Resources) -> Deliver:
    """Register each delivered document in BNMP; answer with the registration event."""
    client, clock = _client(resources), resources.clock

    async def deliver(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        return (answer(env, await client.register(to_peca(env)), clock()),)

    return deliver


def answer(env: Envelope, body: Any, now: datetime) -> Envelope:
    """The hub event for BNMP's answer `body` to the registration of `env` (stable id per document
    delivered); a malformed answer raises `ContractError`."""
    return Envelope.new(
        registered(env, body, now),
        source=SOURCE,
        correlation_id=env.correlation_id,
        causation_id=env.message_id,
        secrecy=env.secrecy,
        occurred_at=now,
        message_id=uuid5(NAMESPACE_URL, f"bnmp:registered:{env.message_id}"),
    )


async def _publish_changes(resources: Resources, since: datetime) -> datetime:
    client, publisher, clock = _client(resources), resources.publisher, resources.clock
    page, latest = 0, since
    while True:
        events, last, newest = change_events(await client.changes(since, page))
        for payload in events:
            env = Envelope.new(
                payload,
                source=SOURCE,
                occurred_at=clock(),
                message_id=uuid5(NAMESPACE_URL, f"bnmp:change:{payload.dedup_key}"),
            )
            await publisher.publish(
                Outgoing(
                    exchange=in_queue("bnmp"),
                    routing_key="",
                    body=env.to_bytes(),
                    message_id=str(env.message_id),
                    correlation_id=env.correlation_id,
                    kind=env.kind,
                )
            )
        latest = max(latest, newest or latest)
        if last:
            return latest
        page += 1


async def poll_changes(resources: Resources) -> None:
    """Every `poll_every_s`, publish BNMP's warrant changes (complied, expired) to `hub.bnmp.in`.

    Change ids derive from the document and its new status, so re-reading a page raises nothing new
    downstream (the inbox drops the copy). The cursor starts a day back after a restart.
    """
    settings, clock = resources.settings.bnmp, resources.clock
    since = clock() - timedelta(days=1)
    while True:
        try:
            since = await _publish_changes(resources, since)
        except Exception as e:  # keep polling through outages and bad pages
            log.warning("bnmp.poll_failed", error=type(e).__name__)
        await asyncio.sleep(settings.poll_every_s)


async def probe(resources: Resources) -> object:
    """BNMP answers an OAuth2 token request."""
    return await _client(resources).probe()


spec = ConnectorSpec(
    "bnmp",
    ACCEPTS,
    deliver=make_deliver,
    probe=probe,
    tasks=(poll_changes,),
    description="BNMP 3.0: registers documents and certificates; polls for warrants complied or "
    "expired elsewhere.",
)
