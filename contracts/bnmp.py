"""What BNMP (the national register of warrants, R417 art.1) reports: registrations, the warrants
it holds and what happens to them, and what the hub could not read of its reports.

BNMP is the register of record: warrants are issued there (S004 item 10), by courts the hub does
not serve too, and the police record their compliance there directly. So a warrant report may be
the hub's first sight of a warrant; it then carries what the hub needs to keep the warrant as its
own record (the person, the court, the process).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, StringConstraints, model_validator

from contracts.base import (
    ExternalId,
    PayloadModel,
    Secrecy,
    Text,
    require_process_prefix,
)
from contracts.ids import CnjNumber, CourtUnitId, DocumentNumber, WarrantNumber, format_cnj
from contracts.people import Official, Person
from contracts.vocabulary import WarrantSpecies

__all__ = [
    "BNMP_UNREADABLE",
    "BnmpChangeUnrecognised",
    "BnmpDocumentType",
    "BnmpRegistrationCompleted",
    "BnmpRegistrationRejected",
    "BnmpWarrantStatus",
    "PersonStatus",
    "Unrecognised",
    "WarrantComplied",
    "WarrantExpired",
    "WarrantRecorded",
]

# The subject of a BNMP report whose document number cannot be read: a process number of the CNJ
# itself (segment 2, court 00), number 0 of 2000, sequence 0000. No real document has it.
BNMP_UNREADABLE = f"{format_cnj(0, 2000, 2, 0, 0)}.0000"


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


class PersonStatus(StrEnum):
    """The person's custody status in BNMP (`statusPessoa`), as the hub names it."""

    PRISONER = "prisoner"  # Preso / Privado de liberdade (R417 art.3 II)
    WANTED = "wanted"  # Procurado
    FUGITIVE = "fugitive"  # Foragido (after fuga/evasão, R417 art.2 §1)
    FREE = "free"  # Em Liberdade (S002)
    AWAITING_RELEASE = "awaiting_release"  # Aguardando Soltura (TJES-OF)
    INTERNED = "interned"  # Internado
    ALTERNATIVE_MEASURES = "alternative_measures"  # Em acompanhamento de medidas diversas
    INACTIVE = "inactive"  # after a death certificate (R417 art.24)


class BnmpWarrantStatus(StrEnum):
    """A warrant's status in BNMP that `WarrantRecorded` reports (compliance and expiry have their
    own payloads, with their own facts)."""

    PENDING = "pending"  # Aguardando Cumprimento / Pendente: in force, not yet complied
    REVOKED = "revoked"  # Revogado by a contramandado or a release order (S002; S004 10.4 b, c)


class _FirstSight(PayloadModel):
    """A BNMP warrant report that may be the hub's first sight of the warrant (issued in BNMP by a
    court the hub does not serve, or complied by the police through BEMP/PCNet: S004 item 10)."""

    warrant_number: WarrantNumber
    person: Person | None = None  # who the warrant is against; None when BNMP did not say
    issuing_court: CourtUnitId | None = None
    secrecy: Secrecy = Secrecy.PUBLIC  # the warrant's sigilo in BNMP (R417 art.34)

    @property
    def business_key(self) -> str:
        """Return the warrant number."""
        return self.warrant_number

    @property
    def min_secrecy(self) -> Secrecy:
        """Return the warrant's own secrecy: a secret warrant's news never travels as public."""
        return self.secrecy


class WarrantComplied(_FirstSight):
    """Certidão de cumprimento do mandado: the arrest date, time and place (R417 art.12), recorded
    in BNMP by the court or the police (S004 10.4 b; Prov. Conj. 154/2025)."""

    kind: Literal["bnmp.warrant.complied"] = "bnmp.warrant.complied"
    complied_at: AwareDatetime
    place: Text
    certified_by: Official

    @property
    def dedup_key(self) -> str:
        """Return warrant and arrest time: a compliance annulled and made again is a new fact."""
        return f"{self.warrant_number}|{type(self).__name__}|{self.complied_at.isoformat()}"


class WarrantExpired(_FirstSight):
    """A pending warrant's validity date passed: BNMP revokes it ("Revogado"; S003 art.7 sole §,
    S004 10.4 d)."""

    kind: Literal["bnmp.warrant.expired"] = "bnmp.warrant.expired"
    expired_at: AwareDatetime


class WarrantRecorded(_FirstSight):
    """BNMP holds this warrant with this status: how the hub learns of a warrant issued in BNMP
    (S004 item 10), and of a revocation made there (a contramandado or a release order, S002)."""

    kind: Literal["bnmp.warrant.recorded"] = "bnmp.warrant.recorded"
    person: Person
    process_number: CnjNumber
    status: BnmpWarrantStatus
    changed_at: AwareDatetime
    person_status: PersonStatus | None = None
    species: WarrantSpecies | None = None
    valid_until: date | None = None
    cause: Text | None = None  # the BNMP event that made the change, in BNMP's words
    bnmp_id: ExternalId | None = None

    @property
    def dedup_key(self) -> str:
        """Return warrant, status and time: each status BNMP reports is a fact of its own."""
        at = self.changed_at.isoformat()
        return f"{self.warrant_number}|{type(self).__name__}|{self.status}|{at}"

    @model_validator(mode="after")
    def _check_numbers(self) -> WarrantRecorded:
        require_process_prefix(self.warrant_number, self.process_number, "warrant number")
        return self


Unrecognised = Literal["piece_type", "piece_status", "event_type", "person_status", "item"]
RawNumber = Annotated[str, StringConstraints(max_length=64)]


class BnmpChangeUnrecognised(PayloadModel):
    """Something BNMP reported that the hub does not know (a status, a piece or event type, a
    person status) or cannot read (a malformed item). Never applied, never ignored: the hub refuses
    it so that it is kept, with the label, for an operator to act on (and to teach the hub)."""

    kind: Literal["bnmp.change.unrecognised"] = "bnmp.change.unrecognised"
    subject: DocumentNumber  # the document, masked; `BNMP_UNREADABLE` if its number is unreadable
    number: RawNumber  # `numeroPeca` as BNMP sent it
    what: Unrecognised
    label: Text  # BNMP's label, or what is wrong with the item
    changed_at: AwareDatetime | None = None
    seen_at: AwareDatetime

    @property
    def business_key(self) -> str:
        """Return the document the report is about (or `BNMP_UNREADABLE`)."""
        return self.subject

    @property
    def dedup_key(self) -> str:
        """Return what was not understood, about which document, when: one record per report."""
        at = self.changed_at.isoformat() if self.changed_at else "-"
        return f"{self.subject}|{type(self).__name__}|{self.number}|{self.what}|{self.label}|{at}"
