"""The custodial-unit connector: units read their own queue and answer on `hub.custodial_unit.in`.

The hub does not call the units: each prison's system consumes `hub.custodial_unit.<unit>.out` with
its own RabbitMQ user, so this connector has no delivery, only the kinds units may send and the
check that a unit speaks only for itself (`identity.py`).
"""

from __future__ import annotations

from connectors.custodial_unit.identity import check_sender
from hub.connector import ConnectorSpec, Inbound, Resources, Verify
from hub.domain.authority import Actor

__all__ = ["ACCEPTS", "make_verify", "spec"]

ACCEPTS = frozenset({"custodial_unit.receipt.acknowledged", "custodial_unit.compliance.certified"})


def make_verify(resources: Resources) -> Verify:
    """Refuse a message whose sender (its login or own exchange) is not the unit it speaks for;
    the unit is the message's actor."""
    security = resources.settings.security

    def verify(inbound: Inbound) -> Actor | None:
        return check_sender(inbound, security)

    return verify


spec = ConnectorSpec(
    "custodial_unit",
    ACCEPTS,
    verify=make_verify,
    description="Custodial units: read their queue; answer with receipts and compliance "
    "certificates, as their own RabbitMQ user.",
)
