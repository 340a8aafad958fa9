"""Timeline checks across documents: an event about an order or warrant cannot precede its issue."""

from __future__ import annotations

from datetime import datetime

from contracts.bnmp import (
    BnmpChangeUnrecognised,
    BnmpRegistrationCompleted,
    BnmpRegistrationRejected,
    WarrantComplied,
    WarrantExpired,
    WarrantRecorded,
)
from contracts.court import ReleaseOrderIssued, WarrantIssued, WarrantRevoked
from contracts.custodial_unit import ComplianceCertified, ReceiptAcknowledged
from contracts.envelope import AnyPayload
from contracts.errors import ContractError
from contracts.hub_events import DeadlineAlert, ImpedimentLifted, ImpedimentReferred
from contracts.setarim import ValidationCompleted

__all__ = ["check_timeline"]


_EVENT_TIMES: dict[type[AnyPayload], tuple[str, ...]] = {
    ReleaseOrderIssued: ("issued_at", "signed_at"),
    WarrantIssued: ("issued_at", "signed_at"),
    WarrantRevoked: ("issued_at", "signed_at"),
    ReceiptAcknowledged: ("received_at",),
    ValidationCompleted: ("validated_at",),
    ComplianceCertified: ("released_at", "certified_at"),
    BnmpRegistrationCompleted: ("registered_at",),
    BnmpRegistrationRejected: ("rejected_at",),
    WarrantComplied: ("complied_at",),
    WarrantExpired: ("expired_at",),
    WarrantRecorded: ("changed_at",),
    BnmpChangeUnrecognised: ("changed_at", "seen_at"),
    ImpedimentReferred: ("referred_at",),
    ImpedimentLifted: ("lifted_at",),
    DeadlineAlert: ("raised_at",),
}


def check_timeline(
    document: ReleaseOrderIssued | WarrantIssued,
    payload: AnyPayload,
    *,
    now: datetime | None = None,
) -> None:
    """Raise `ContractError` when an event about `document` happened before it was issued.

    With `now`, also raise when the event claims to have happened in the future.
    """
    for field in _EVENT_TIMES[type(payload)]:
        moment: datetime | None = getattr(payload, field)
        if moment is None:
            continue
        if moment < document.issued_at:
            raise ContractError(
                f"{payload.kind}: {field} {moment.isoformat()} is before the {document.kind} "
                f"was issued ({document.issued_at.isoformat()})",
                reason="impossible_timeline",
            )
        if now is not None and moment > now:
            raise ContractError(
                f"{payload.kind}: {field} {moment.isoformat()} is in the future",
                reason="impossible_timeline",
            )
