"""What a custodial unit (prison, lock-up) reports: receipt and the compliance certificate."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from contracts.base import PayloadModel, PersonName, Text, require_not_after
from contracts.errors import ContractError
from contracts.ids import CustodialUnitId, DocumentNumber
from contracts.people import Official

__all__ = ["ComplianceCertified", "ReceiptAcknowledged"]

Contacts = Annotated[tuple[Text, ...], Field(max_length=20)]


class ReceiptAcknowledged(PayloadModel):
    """Confirmação de recebimento: who received the order, in what role, when (S001 art.377)."""

    kind: Literal["custodial_unit.receipt.acknowledged"] = "custodial_unit.receipt.acknowledged"
    order_number: DocumentNumber
    unit: CustodialUnitId
    received_at: AwareDatetime
    received_by: Official

    @property
    def business_key(self) -> str:
        """Return the order number."""
        return self.order_number


class ComplianceCertified(PayloadModel):
    """Certidão de cumprimento do alvará: released (when) or kept (why), by whom (R417 art.9).

    A "not released" outcome is still a complied order (S001 art.374 §2). The actual release time
    is the reference, and the unit adds the addresses and phones the released person gave.
    """

    kind: Literal["custodial_unit.compliance.certified"] = "custodial_unit.compliance.certified"
    order_number: DocumentNumber
    unit: CustodialUnitId
    released: bool
    released_at: AwareDatetime | None = None
    not_released_reason: Text | None = None
    certified_at: AwareDatetime
    responsible: Official
    director: PersonName | None = None
    addresses: Contacts = ()
    phones: Contacts = ()

    @property
    def business_key(self) -> str:
        """Return the order number."""
        return self.order_number

    @model_validator(mode="after")
    def _check_outcome(self) -> ComplianceCertified:
        if self.released:
            if self.released_at is None:
                raise ContractError("released needs released_at (R417 art.9)", reason="outcome")
            if self.not_released_reason is not None:
                raise ContractError(
                    "released contradicts not_released_reason; drop one", reason="outcome"
                )
        else:
            if self.not_released_reason is None:
                raise ContractError(
                    "not released needs not_released_reason (S001 art.374 §1)", reason="outcome"
                )
            if self.released_at is not None:
                raise ContractError("not released contradicts released_at", reason="outcome")
        require_not_after(self.released_at, self.certified_at, "released_at is after certified_at")
        return self
