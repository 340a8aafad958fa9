"""The court connector: courts send documents in on `hub.court.in` (AMQP, or the hub's HTTP ingest);
the hub tells them what happened through signed webhooks, from `hub.court.out`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.court.client import CourtClient
from contracts import Envelope
from hub.runtime import ConnectorSpec, Deliver

__all__ = ["ACCEPTS", "COURT_HEADER", "make_deliver", "spec"]

ACCEPTS = frozenset({"court.release_order.issued", "court.warrant.issued", "court.warrant.revoked"})
COURT_HEADER = "x-hub-court"


def make_deliver(resources: Mapping[str, Any]) -> Deliver:
    """Notify the court that issued the document (the hub names it in `x-hub-court`)."""
    client = CourtClient(resources["settings"].court, resources["http"])

    async def deliver(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        court = headers.get(COURT_HEADER)
        await client.notify(
            str(court) if court else None, env.to_bytes(), str(env.message_id), env.kind
        )
        return ()

    return deliver


spec = ConnectorSpec(
    "court",
    ACCEPTS,
    deliver=make_deliver,
    description="Court systems (RUPE/ASE, SAJ, PJe): documents in; signed webhooks out.",
)
