"""Content-based routing, pure: which queues a message goes to, given what the hub knows.

The table below is the whole of it. A destination is dropped (and the drop audited) when the message
is more secret than the destination may see (R417 art.34): SETARIM and the custodial units are
cleared for restricted documents, not for secret ones; BNMP and the courts see everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from contracts import Envelope, Secrecy
from contracts.bnmp import (
    BnmpDocumentType,
    BnmpRegistrationCompleted,
    BnmpRegistrationRejected,
    WarrantComplied,
    WarrantExpired,
    WarrantRecorded,
)
from contracts.court import ReleaseOrderIssued, WarrantIssued, WarrantRevoked
from contracts.custodial_unit import ComplianceCertified, ReceiptAcknowledged
from contracts.hub_events import DeadlineAlert, ImpedimentLifted, ImpedimentReferred
from contracts.setarim import ValidationCompleted
from hub.domain.topology import Connector, out_queue, unit_queue
from hub.errors import Unroutable

__all__ = ["CLEARANCE", "Route", "route"]

CLEARANCE: Final[dict[Connector, Secrecy]] = {
    "bnmp": Secrecy.SECRET,
    "court": Secrecy.SECRET,
    "setarim": Secrecy.RESTRICTED,
    "custodial_unit": Secrecy.RESTRICTED,
}

# Which connectors each kind goes to; "unit" means the custodial unit that holds the person.
_TABLE: Final[dict[type, tuple[str, ...]]] = {
    ReleaseOrderIssued: ("bnmp", "setarim", "unit"),
    ValidationCompleted: ("unit", "court"),
    ImpedimentReferred: ("court", "unit"),
    # With no impediment left, SETARIM validates the order again (S000 art.4 §2); see `route`.
    ImpedimentLifted: ("setarim", "court"),
    ReceiptAcknowledged: ("court",),
    ComplianceCertified: ("bnmp", "court"),
    BnmpRegistrationCompleted: ("court",),
    BnmpRegistrationRejected: ("court",),
    WarrantIssued: ("bnmp", "setarim"),
    WarrantRevoked: ("bnmp", "setarim"),
    WarrantComplied: ("court", "setarim"),
    WarrantExpired: ("court", "setarim"),
    # A warrant BNMP holds (issued there, or revoked there): SETARIM's archive of open orders.
    WarrantRecorded: ("setarim",),
    DeadlineAlert: ("court",),
}


@dataclass(frozen=True)
class Route:
    """Where a message goes (`queue`), or why it does not (`withheld` is the reason)."""

    connector: Connector
    queue: str
    withheld: str | None = None


def _connector(target: str) -> Connector:
    return "custodial_unit" if target == "unit" else target  # type: ignore[return-value]


def _queue(target: str, unit: str | None, units: frozenset[str], kind: str) -> str:
    if target != "unit":
        return out_queue(_connector(target))
    if unit is None:
        raise Unroutable(f"{kind}: no custodial unit is known for this order", reason="no_unit")
    if unit not in units:
        raise Unroutable(
            f"{kind}: custodial unit {unit} is not connected to the hub", reason="unknown_unit"
        )
    return unit_queue(unit)


def route(
    env: Envelope, unit: str | None, units: frozenset[str], *, court: bool = True
) -> tuple[Route, ...]:
    """Destinations of `env`; `unit` is the custodial unit holding the person, if known; `court`
    False leaves the courts out: news of a warrant no court sent through the hub (issued in BNMP,
    S004 item 10) is the court's to read in BNMP, not the hub's to deliver."""
    targets = _TABLE.get(type(env.payload), ())
    if not court:
        targets = tuple(t for t in targets if t != "court")
    if isinstance(env.payload, BnmpRegistrationCompleted | BnmpRegistrationRejected) and (
        env.payload.document_type in (BnmpDocumentType.WARRANT, BnmpDocumentType.COUNTER_WARRANT)
    ):
        targets = ("court",)
    if isinstance(env.payload, ImpedimentLifted) and env.payload.remaining:
        targets = ("court",)  # others still impede: nothing for SETARIM to validate again
    routes = []
    for target in targets:
        connector = _connector(target)
        queue = _queue(target, unit, units, env.kind)
        cleared = env.secrecy.rank <= CLEARANCE[connector].rank
        why = None if cleared else f"{env.secrecy} message withheld from {connector} (R417 art.34)"
        routes.append(Route(connector, queue, why))
    return tuple(routes)
