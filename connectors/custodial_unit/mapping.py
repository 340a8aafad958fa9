"""What a custodial unit answers to a release order (pure): its receipt and its compliance
certificate, released or kept with the reasons."""

from __future__ import annotations

from datetime import datetime

from contracts import ComplianceCertified, ReceiptAcknowledged, ReleaseOrderIssued
from contracts.people import Official
from contracts.setarim import Impediment

__all__ = ["compliance_for", "receipt_for"]


def receipt_for(
    order: ReleaseOrderIssued, unit: str, at: datetime, who: Official
) -> ReceiptAcknowledged:
    """Confirmação de recebimento: who received the order, in what role, when."""
    return ReceiptAcknowledged(
        order_number=order.order_number, unit=unit, received_at=at, received_by=who
    )


def compliance_for(
    order: ReleaseOrderIssued,
    unit: str,
    at: datetime,
    who: Official,
    impediments: tuple[Impediment, ...],
) -> ComplianceCertified:
    """Certidão de cumprimento: released at `at`, or kept because of `impediments`."""
    if impediments:
        reason = "mantido preso em razão de: " + "; ".join(
            f"mandado {i.warrant_number} ({i.issuing_court})" for i in impediments
        )
        return ComplianceCertified(
            order_number=order.order_number,
            unit=unit,
            released=False,
            not_released_reason=reason,
            certified_at=at,
            responsible=who,
        )
    return ComplianceCertified(
        order_number=order.order_number,
        unit=unit,
        released=True,
        released_at=at,
        certified_at=at,
        responsible=who,
    )
