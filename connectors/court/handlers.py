"""The court connector: courts send documents in on `hub.court.in` (AMQP, or the hub's HTTP ingest);
the hub tells them what happened through signed webhooks, from `hub.court.out`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.court.client import CourtClient
from connectors.court.signing import check_signature, court_actor, trusted_keys
from contracts import Envelope
from hub.connector import ConnectorSpec, Deliver, Inbound, Resources, Verify
from hub.domain.authority import Actor

__all__ = ["ACCEPTS", "COURT_HEADER", "make_deliver", "make_verify", "probe", "spec"]

ACCEPTS = frozenset({"court.release_order.issued", "court.warrant.issued", "court.warrant.revoked"})
COURT_HEADER = "x-hub-court"


def make_deliver(resources: Resources) -> Deliver:
    """Notify the court that issued the document (the hub names it in `x-hub-court`)."""
    client = CourtClient(resources.settings.court, resources.http)

    async def deliver(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        court = headers.get(COURT_HEADER)
        await client.notify(
            str(court) if court else None, env.to_bytes(), str(env.message_id), env.kind
        )
        return ()

    return deliver


def make_verify(resources: Resources) -> Verify:
    """Check each court document's signature against the registered court keys; say who sent
    it and which courts it may speak for (`hub.domain.authority`)."""
    security = resources.settings.security
    keys = trusted_keys(security.court_keys)

    def verify(inbound: Inbound) -> Actor:
        key_id = check_signature(inbound, keys, required=security.require_signatures)
        return court_actor(inbound, keys, key_id, security)

    return verify


async def probe(resources: Resources) -> object:
    """The default court system answers its health check."""
    return await CourtClient(resources.settings.court, resources.http).probe()


spec = ConnectorSpec(
    "court",
    ACCEPTS,
    deliver=make_deliver,
    verify=make_verify,
    probe=probe,
    description="Court systems (RUPE/ASE, SAJ, PJe): signed documents in; signed webhooks out.",
)
