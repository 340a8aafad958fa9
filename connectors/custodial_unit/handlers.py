"""The custodial-unit connector: units read their own queue and answer on `hub.custodial_unit.in`.

The hub does not call the units: each prison's system consumes `hub.custodial_unit.<unit>.out` with
its own RabbitMQ user, so this connector has no delivery, only the kinds units may send.
"""

from __future__ import annotations

from hub.runtime import ConnectorSpec

__all__ = ["ACCEPTS", "spec"]

ACCEPTS = frozenset({"custodial_unit.receipt.acknowledged", "custodial_unit.compliance.certified"})

spec = ConnectorSpec(
    "custodial_unit",
    ACCEPTS,
    description="Custodial units: read their queue; answer with receipts and compliance "
    "certificates.",
)
