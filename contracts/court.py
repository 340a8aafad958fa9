"""Documents a court issues: release orders, arrest warrants and counter-warrants."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from contracts.base import (
    PayloadModel,
    PersonName,
    Secrecy,
    Text,
    require_not_after,
    require_process_prefix,
    require_year_not_after,
)
from contracts.errors import ContractError
from contracts.ids import (
    CnjNumber,
    CourtUnitId,
    CustodialUnitId,
    DocumentNumber,
    WarrantNumber,
    warrant_process,
)
from contracts.people import Person
from contracts.vocabulary import ReleaseMotive, ReleaseOrderType, WarrantSpecies

__all__ = ["CONTINGENCY_OUTAGE", "ReleaseOrderIssued", "WarrantIssued", "WarrantRevoked"]

# Outside BNMP only after BNMP has been down for more than 60 minutes (S003 art.12 §2).
CONTINGENCY_OUTAGE = timedelta(minutes=60)

BailAmount = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]


def _invalid(message: str, reason: str) -> ContractError:
    return ContractError(message, reason=reason)


class ReleaseOrderIssued(PayloadModel):
    """Alvará de soltura (also ordem de liberação, ordem de desinternação) issued and signed.

    It must list the warrants it covers, or be a release granted on the flagrante analysis (CPP
    310 I/III), in which case the arrest date is mandatory (S002).
    """

    kind: Literal["court.release_order.issued"] = "court.release_order.issued"
    order_number: DocumentNumber
    order_type: ReleaseOrderType = "alvara_soltura"
    process_number: CnjNumber
    motive: ReleaseMotive
    person: Person
    covered_warrants: tuple[WarrantNumber, ...] = ()
    flagrante: bool = False
    arrest_date: date | None = None
    issuing_court: CourtUnitId
    judge: PersonName
    custodial_unit: CustodialUnitId | None = None
    issued_at: AwareDatetime
    signed_at: AwareDatetime
    conditions: Text | None = None
    contingency: bool = False
    outage_started_at: AwareDatetime | None = None
    plantao: bool = False

    @property
    def business_key(self) -> str:
        """Return the order number."""
        return self.order_number

    @model_validator(mode="after")
    def _check_basis(self) -> ReleaseOrderIssued:
        if self.flagrante and self.arrest_date is None:
            raise _invalid(
                "a release granted on the flagrante analysis needs the arrest date (S002)",
                "missing_arrest_date",
            )
        if not self.covered_warrants and not self.flagrante:
            raise _invalid(
                "a release order needs at least one covered warrant, or the flagrante flag with "
                "the arrest date (S002 §3)",
                "no_release_basis",
            )
        if len(set(self.covered_warrants)) != len(self.covered_warrants):
            raise _invalid("covered_warrants lists a warrant twice", "duplicate_warrant")
        return self

    @model_validator(mode="after")
    def _check_numbers(self) -> ReleaseOrderIssued:
        require_process_prefix(self.order_number, self.process_number, "order number")
        require_year_not_after(self.process_number, self.issued_at, "process number")
        return self

    @model_validator(mode="after")
    def _check_dates(self) -> ReleaseOrderIssued:
        issued_on = self.issued_at.date()
        require_not_after(self.arrest_date, issued_on, "arrest_date is after the issue date")
        require_not_after(
            self.person.birth_date, issued_on, "person.birth_date is after the issue date"
        )
        require_not_after(
            self.issued_at, self.signed_at, "signed_at is before issued_at: sign after issuing"
        )
        return self

    @model_validator(mode="after")
    def _check_contingency(self) -> ReleaseOrderIssued:
        if not self.contingency:
            if self.outage_started_at is not None:
                raise _invalid("outage_started_at is set but contingency is false", "contingency")
            return self
        if self.outage_started_at is None:
            raise _invalid(
                "a contingency order needs outage_started_at, the start of the BNMP outage",
                "contingency",
            )
        if self.issued_at - self.outage_started_at <= CONTINGENCY_OUTAGE:
            raise _invalid(
                "a contingency order may be issued outside BNMP only after more than 60 minutes "
                "of outage (S003 art.12 §2)",
                "contingency",
            )
        return self


class WarrantIssued(PayloadModel):
    """Mandado de prisão (or de internação, monitoramento, medida diversa) issued and signed."""

    kind: Literal["court.warrant.issued"] = "court.warrant.issued"
    warrant_number: WarrantNumber
    process_number: CnjNumber
    species: WarrantSpecies
    reason: Text
    legal_ground: Text
    offence: Text
    bail_amount: BailAmount | None = None
    valid_until: date
    issued_at: AwareDatetime
    signed_at: AwareDatetime
    judge: PersonName
    issuing_court: CourtUnitId
    secrecy: Secrecy = Secrecy.PUBLIC
    person: Person
    term_days: Annotated[int, Field(gt=0, le=3650)] | None = None
    measure_end: date | None = None

    @property
    def business_key(self) -> str:
        """Return the warrant number."""
        return self.warrant_number

    @property
    def min_secrecy(self) -> Secrecy:
        """The warrant's own secrecy: a secret warrant never travels as public (R417 art.34)."""
        return self.secrecy

    def expired_on(self, day: date) -> bool:
        """Return whether the validity date has passed on `day` (7.7: already expired)."""
        return self.valid_until < day

    @model_validator(mode="after")
    def _check_numbers(self) -> WarrantIssued:
        require_process_prefix(self.warrant_number, self.process_number, "warrant number")
        require_year_not_after(self.process_number, self.issued_at, "process number")
        return self

    @model_validator(mode="after")
    def _check_dates(self) -> WarrantIssued:
        issued_on = self.issued_at.date()
        require_not_after(
            issued_on, self.valid_until, "valid_until is before the issue date (R417 art.11)"
        )
        require_not_after(
            self.issued_at, self.signed_at, "signed_at is before issued_at: sign after issuing"
        )
        require_not_after(
            self.person.birth_date, issued_on, "person.birth_date is after the issue date"
        )
        require_not_after(issued_on, self.measure_end, "measure_end is before the issue date")
        return self

    @model_validator(mode="after")
    def _check_species(self) -> WarrantIssued:
        if self.species is WarrantSpecies.TEMPORARY and self.term_days is None:
            raise _invalid(
                "a temporary-arrest warrant needs term_days (R417 art.11)", "missing_term"
            )
        if self.species.needs_measure_end and self.measure_end is None:
            raise _invalid(
                f"a {self.species} warrant needs measure_end: open-ended measures are forbidden "
                "(R417 art.14, 19)",
                "open_ended_measure",
            )
        if not self.species.needs_measure_end and self.measure_end is not None:
            raise _invalid(
                "measure_end applies only to monitoring and alternative measures, "
                f"not {self.species}",
                "unexpected_measure_end",
            )
        return self


class WarrantRevoked(PayloadModel):
    """Contramandado: cancels a warrant still pending compliance (S002)."""

    kind: Literal["court.warrant.revoked"] = "court.warrant.revoked"
    counter_warrant_number: DocumentNumber
    warrant_number: WarrantNumber
    reason: Text
    issued_at: AwareDatetime
    signed_at: AwareDatetime
    issuing_court: CourtUnitId

    @property
    def business_key(self) -> str:
        """Return the number of the revoked warrant."""
        return self.warrant_number

    @model_validator(mode="after")
    def _check_dates(self) -> WarrantRevoked:
        require_not_after(
            self.issued_at, self.signed_at, "signed_at is before issued_at: sign after issuing"
        )
        require_year_not_after(
            warrant_process(self.counter_warrant_number), self.issued_at, "process number"
        )
        if self.counter_warrant_number == self.warrant_number:
            raise _invalid(
                "counter_warrant_number must differ from the warrant it revokes", "self_revocation"
            )
        return self
