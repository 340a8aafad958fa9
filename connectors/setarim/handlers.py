"""The SETARIM connector: validation of each release order, and warrant records for its archive."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from connectors.setarim.client import SetarimClient
from connectors.setarim.mapping import (
    certificate_of,
    lifted_record,
    to_validation_request,
    to_warrant_record,
)
from contracts import Envelope, ImpedimentLifted, ReleaseOrderIssued, Source
from hub.connector import ConnectorSpec, Deliver, Resources

__all__ = ["ACCEPTS", "SOURCE", "make_deliver", "probe", "spec"]

SOURCE = Source(connector="setarim", system="SETARIM")
# SETARIM may also push certificates (a re-validation after an impediment was regularised).
ACCEPTS = frozenset({"setarim.validation.completed"})


def make_deliver(resources: Resources) -> Deliver:
    """Validate release orders (answering the certificate), again when the last impediment of one
    is lifted (S000 art.4 §2); record warrant events."""
    client = SetarimClient(resources.settings.setarim, resources.http)
    clock = resources.clock

    async def deliver(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        p = env.payload
        if isinstance(p, ImpedimentLifted):
            await client.record(lifted_record(p))
            order = p.order
        elif isinstance(p, ReleaseOrderIssued):
            order = p
        else:
            await client.record(to_warrant_record(env))
            return ()
        body = await client.validate(to_validation_request(order))
        certificate = certificate_of(order.order_number, body, clock())
        answer = Envelope.new(
            certificate,
            source=SOURCE,
            correlation_id=env.correlation_id,
            causation_id=env.message_id,
            secrecy=env.secrecy,
            occurred_at=clock(),
            message_id=uuid5(NAMESPACE_URL, f"setarim:validated:{env.message_id}"),
        )
        return (answer,)

    return deliver


async def probe(resources: Resources) -> object:
    """SETARIM answers its health check."""
    return await SetarimClient(resources.settings.setarim, resources.http).probe()


spec = ConnectorSpec(
    "setarim",
    ACCEPTS,
    deliver=make_deliver,
    probe=probe,
    description="SETARIM (URI, PCMG): validates release orders against open warrants; keeps "
    "warrant records.",
)
