"""Between the hub's contracts and BNMP 3.0's JSON (pure).

BNMP 3.0 has no public specification (R417 art.27 §1: it is sent to the courts); the shapes here
follow what is public of
it: a peça with `numeroPeca` and an unmasked 20-digit `numeroProcesso`, Spring pages
(`content`, `last`) from `light-filter`, and status descriptions such as "Cumprido".
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from contracts import (
    BnmpDocumentType,
    BnmpRegistrationCompleted,
    ComplianceCertified,
    ContractError,
    Envelope,
    ReleaseOrderIssued,
    WarrantComplied,
    WarrantExpired,
    WarrantIssued,
    WarrantRevoked,
)
from contracts.envelope import AnyPayload
from contracts.people import Official, Person

__all__ = ["change_events", "digits", "document_of", "masked_number", "registered", "to_peca"]

_DOCS: dict[type, tuple[str, BnmpDocumentType]] = {
    ReleaseOrderIssued: ("order_number", BnmpDocumentType.RELEASE_ORDER),
    ComplianceCertified: ("order_number", BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE),
    WarrantIssued: ("warrant_number", BnmpDocumentType.WARRANT),
    WarrantRevoked: ("counter_warrant_number", BnmpDocumentType.COUNTER_WARRANT),
}


def digits(number: str) -> str:
    """A masked CNJ or document number, unmasked (BNMP stores digits only)."""
    return re.sub(r"\D", "", number)


def masked_number(unmasked: str) -> str:
    """A 24-digit document number back in the hub's NNNNNNN-DD.AAAA.J.TR.OOOO.SSSS form."""
    d = unmasked
    if len(d) != 24 or not d.isdigit():
        raise ContractError(
            f"BNMP document number has {len(d)} characters, expected 24 digits",
            reason="malformed_answer",
        )
    return f"{d[:7]}-{d[7:9]}.{d[9:13]}.{d[13]}.{d[14:16]}.{d[16:20]}.{d[20:]}"


def document_of(env: Envelope) -> tuple[str, BnmpDocumentType]:
    """Which BNMP document a delivery registers: its number and type."""
    try:
        attr, doc_type = _DOCS[type(env.payload)]
    except KeyError:
        raise ContractError(
            f"{env.kind} is not registered in BNMP", reason="not_for_bnmp"
        ) from None
    return str(getattr(env.payload, attr)), doc_type


def _pessoa(person: Person) -> dict[str, Any]:
    return {
        "numeroCpf": person.cpf,
        "numeroIndividuo": person.rji,
        "nome": person.name,
        "nomeMae": person.mother_name,
        "dataNascimento": person.birth_date.isoformat() if person.birth_date else None,
    }


def to_peca(env: Envelope) -> dict[str, Any]:
    """The peça BNMP registers for this delivery."""
    number, doc_type = document_of(env)
    p = env.payload
    peca: dict[str, Any] = {
        "numeroPeca": digits(number),
        "tipoPeca": doc_type.value,
        "sigilo": env.secrecy.value,
        "dataExpedicao": env.occurred_at.isoformat(),
    }
    if isinstance(p, ReleaseOrderIssued | WarrantIssued):
        peca |= {
            "numeroProcesso": digits(p.process_number),
            "pessoa": _pessoa(p.person),
            "orgaoJudiciario": p.issuing_court,
        }
    if isinstance(p, ReleaseOrderIssued):
        peca["pecasReferenciadas"] = [digits(w) for w in p.covered_warrants]
        peca["contingencia"] = p.contingency
    if isinstance(p, WarrantRevoked):
        peca["pecasReferenciadas"] = [digits(p.warrant_number)]
    if isinstance(p, ComplianceCertified):
        peca |= {
            "liberado": p.released,
            "dataCumprimento": p.certified_at.isoformat(),
            "unidade": p.unit,
        }
    return peca


class _Registered(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    numeroPeca: str  # noqa: N815 - BNMP's field name


def registered(env: Envelope, body: Any, now: datetime) -> BnmpRegistrationCompleted:
    """The hub event for BNMP's answer; a malformed answer raises `ContractError`."""
    number, doc_type = document_of(env)
    try:
        ok = _Registered.model_validate(body)
    except ValidationError:
        raise ContractError(
            "BNMP answered a registration without id/numeroPeca", reason="malformed_answer"
        ) from None
    if ok.numeroPeca != digits(number):
        raise ContractError("BNMP answered for another document", reason="malformed_answer")
    try:
        return BnmpRegistrationCompleted(
            document_number=number, document_type=doc_type, bnmp_id=ok.id[:64], registered_at=now
        )
    except ValidationError:
        raise ContractError(
            "BNMP answered a registration with an id the hub cannot keep", reason="malformed_answer"
        ) from None


class _Change(BaseModel):
    model_config = ConfigDict(extra="ignore")
    numeroPeca: str  # noqa: N815 - BNMP's field names
    status: str
    dataAlteracao: AwareDatetime  # noqa: N815
    localCumprimento: str | None = None  # noqa: N815
    responsavelNome: str | None = None  # noqa: N815
    responsavelCargo: str | None = None  # noqa: N815


def _event(c: _Change) -> AnyPayload | None:
    number = masked_number(c.numeroPeca)
    if c.status == "CUMPRIDO":
        who = Official(
            name=c.responsavelNome or "Polícia Civil", role=c.responsavelCargo or "agente"
        )
        return WarrantComplied(
            warrant_number=number,
            complied_at=c.dataAlteracao,
            place=c.localCumprimento or "não informado",
            certified_by=who,
        )
    if c.status == "EXPIRADO":
        return WarrantExpired(warrant_number=number, expired_at=c.dataAlteracao)
    return None  # other changes are not the hub's business


def change_events(page: Any) -> tuple[list[AnyPayload], bool, datetime | None]:
    """The hub events in one `light-filter` page, whether it is the last, and its latest change."""
    if not isinstance(page, dict) or not isinstance(page.get("content"), list):
        raise ContractError(
            "BNMP light-filter answered without a content list", reason="malformed_answer"
        )
    try:
        changes = [_Change.model_validate(item) for item in page["content"]]
        events = [e for c in changes if (e := _event(c)) is not None]
    except ValidationError:
        raise ContractError(
            "BNMP light-filter item is malformed", reason="malformed_answer"
        ) from None
    latest = max((c.dataAlteracao for c in changes), default=None)
    return events, bool(page.get("last", True)), latest
