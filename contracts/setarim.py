"""What SETARIM (the URI) reports: the validation certificate and the impediments it found."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, model_validator

from contracts.base import Contract, ExternalId, PayloadModel, Text, require_process_prefix
from contracts.errors import ContractError
from contracts.ids import CnjNumber, CourtUnitId, DocumentNumber, WarrantNumber

__all__ = ["Impediment", "ValidationCompleted", "check_impediments"]


class Impediment(Contract):
    """Impedimento: another order in force that keeps the person held (S000 art.4 §1)."""

    issuing_court: CourtUnitId
    process_number: CnjNumber
    warrant_number: WarrantNumber
    description: Text

    @model_validator(mode="after")
    def _check_prefix(self) -> Impediment:
        require_process_prefix(self.warrant_number, self.process_number, "impediment warrant")
        return self


def check_impediments(impediments: tuple[Impediment, ...]) -> tuple[Impediment, ...]:
    """Raise `ContractError` when a list of impediments names the same warrant twice."""
    numbers = [item.warrant_number for item in impediments]
    if len(set(numbers)) != len(numbers):
        raise ContractError("impediments list a warrant twice", reason="duplicate_warrant")
    return impediments


class ValidationCompleted(PayloadModel):
    """Certidão de Validação: SETARIM checked the order against other open orders (S000 art.4)."""

    kind: Literal["setarim.validation.completed"] = "setarim.validation.completed"
    order_number: DocumentNumber
    certificate_number: ExternalId
    validated_at: AwareDatetime
    impediments: tuple[Impediment, ...] = ()

    @property
    def business_key(self) -> str:
        """Return the order number."""
        return self.order_number

    @property
    def dedup_key(self) -> str:
        """Return order and certificate: a re-validation after regularisation is a new fact."""
        return f"{self.order_number}|{type(self).__name__}|{self.certificate_number}"

    @property
    def cleared(self) -> bool:
        """Return whether no impediment was found: the unit may release the person."""
        return not self.impediments

    @model_validator(mode="after")
    def _check_unique(self) -> ValidationCompleted:
        check_impediments(self.impediments)
        return self
