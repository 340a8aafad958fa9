"""What BNMP (the national warrant bank) reports: registrations and warrant events."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime

from contracts.base import ExternalId, PayloadModel, Text
from contracts.ids import DocumentNumber, WarrantNumber
from contracts.people import Official

__all__ = [
    "BnmpDocumentType",
    "BnmpRegistrationCompleted",
    "BnmpRegistrationRejected",
    "WarrantComplied",
    "WarrantExpired",
]


class BnmpDocumentType(StrEnum):
    """Tipo de peça the hub registers in BNMP."""

    RELEASE_ORDER = "release_order"  # alvará de soltura / ordem de liberação / desinternação
    RELEASE_COMPLIANCE_CERTIFICATE = "release_compliance_certificate"  # certidão de cumprimento
    WARRANT = "warrant"  # mandado de prisão
    COUNTER_WARRANT = "counter_warrant"  # contramandado
    WARRANT_COMPLIANCE_CERTIFICATE = "warrant_compliance_certificate"  # cumprimento do mandado


class BnmpRegistrationCompleted(PayloadModel):
    """BNMP accepted a document; for a compliance certificate, `document_number` is the order's."""

    kind: Literal["bnmp.registration.completed"] = "bnmp.registration.completed"
    document_number: DocumentNumber
    document_type: BnmpDocumentType
    bnmp_id: ExternalId
    registered_at: AwareDatetime

    @property
    def business_key(self) -> str:
        """Return the number of the registered document (or of the order it certifies)."""
        return self.document_number

    @property
    def dedup_key(self) -> str:
        """Return the document number and type: one registration per document."""
        return f"{self.document_number}|{type(self).__name__}|{self.document_type}"


class BnmpRegistrationRejected(PayloadModel):
    """BNMP refused to register a document, with its reason."""

    kind: Literal["bnmp.registration.rejected"] = "bnmp.registration.rejected"
    document_number: DocumentNumber
    document_type: BnmpDocumentType
    reason: Text
    rejected_at: AwareDatetime

    @property
    def business_key(self) -> str:
        """Return the number of the rejected document (or of the order it certifies)."""
        return self.document_number

    @property
    def dedup_key(self) -> str:
        """Return the document number, type and time: each rejection is its own fact."""
        stamp = self.rejected_at.isoformat()
        return f"{self.document_number}|{type(self).__name__}|{self.document_type}|{stamp}"


class WarrantComplied(PayloadModel):
    """Certidão de cumprimento do mandado: the arrest date, time and place (R417 art.12)."""

    kind: Literal["bnmp.warrant.complied"] = "bnmp.warrant.complied"
    warrant_number: WarrantNumber
    complied_at: AwareDatetime
    place: Text
    certified_by: Official

    @property
    def business_key(self) -> str:
        """Return the warrant number."""
        return self.warrant_number


class WarrantExpired(PayloadModel):
    """A pending warrant's validity date passed: automatic revocation (S003 art.7 sole §)."""

    kind: Literal["bnmp.warrant.expired"] = "bnmp.warrant.expired"
    warrant_number: WarrantNumber
    expired_at: AwareDatetime

    @property
    def business_key(self) -> str:
        """Return the warrant number."""
        return self.warrant_number
