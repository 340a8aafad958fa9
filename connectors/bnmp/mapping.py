"""Between the hub's contracts and BNMP 3.0's JSON (pure).

BNMP 3.0 has no public specification; the shapes here follow what is public of it: a peça with a
`numeroPeca` (28 digits in BNMP 2.0/3.0: the process number, the piece type, a sequence and 2 check
digits; the hub's own documents keep its 24-digit numbers) and an unmasked 20-digit
`numeroProcesso`, Spring pages (`content`, `last`) from `pecas/light-filter`, whose items carry
BNMP's labels (`descricaoStatus`, `descricaoTipoPeca`, `statusPessoa`), read through
`connectors.bnmp.vocabulary`.

What the hub reads of a light-filter item, beyond the fields seen in BNMP 3.0's (id, numeroPeca,
descricaoTipoPeca, descricaoStatus, nomePessoa, numeroCpf, numeroProcesso, dataNascimento,
idOrgaoJudiciario, siglaTribunal, sigiloso): the time of the change (`dataAlteracao`, its
cursor), the warrant's `dataValidade` and `especiePrisao` (BNMP 2.0's `MandadoPrisaoDTO`), the
person's `statusPessoa`, and the event that made the change (`evento`, shaped as BNMP 3.0's event
item: `descricaoTipoEvento`, its date, place and who recorded it). That an item carries these is
the hub's assumption, not something a public source shows.

One item the hub cannot read or does not know never holds up the rest of its page: it becomes a
`BnmpChangeUnrecognised`, which the hub keeps for an operator.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, TypeAdapter, ValidationError

from connectors.bnmp.vocabulary import (
    DOCUMENT_LABELS,
    MOTIVE_LABELS,
    RELEASE_LABELS,
    SECRECY_LABELS,
    SPECIES_LABELS,
    EventMeaning,
    PieceKind,
    PieceStatus,
    event_meaning,
    person_status,
    piece_kind,
    piece_status,
    secrecy_of,
    species_of,
)
from contracts import (
    BNMP_UNREADABLE,
    BnmpChangeUnrecognised,
    BnmpDocumentType,
    BnmpRegistrationCompleted,
    BnmpWarrantStatus,
    ComplianceCertified,
    ContractError,
    CourtUnitId,
    DocumentNumber,
    Envelope,
    ReleaseOrderIssued,
    Secrecy,
    WarrantComplied,
    WarrantExpired,
    WarrantIssued,
    WarrantRecorded,
    WarrantRevoked,
    format_bnmp_number,
    warrant_process,
)
from contracts.bnmp import Unrecognised
from contracts.envelope import AnyPayload
from contracts.people import Official, Person

__all__ = [
    "Page",
    "Reading",
    "digits",
    "document_of",
    "masked_number",
    "read_page",
    "registered",
    "to_peca",
]

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
    """A document number as BNMP sends it, masked again: 24 digits (the hub's own numbers) as
    NNNNNNN-DD.AAAA.J.TR.OOOO.SSSS, 28 digits (BNMP 2.0/3.0's) as ...OOOO.TT.SSSS-CC."""
    d = unmasked
    if not (d.isascii() and d.isdigit()) or len(d) not in (24, 28):
        raise ContractError(
            f"BNMP document number has {len(d)} characters, expected 24 or 28 digits",
            reason="malformed_answer",
        )
    if len(d) == 28:
        return format_bnmp_number(d)
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


# ------------------------------------------------------------------ the peças the hub registers


def _pessoa(person: Person) -> dict[str, Any]:
    """Qualificação (R417 art.4): CPF or RJI, names, birth date; an RJI de Exceção's physical
    description and photo (art.4 §7)."""
    pessoa: dict[str, Any] = {
        "numeroCpf": person.cpf,
        "numeroIndividuo": person.rji,
        "nome": person.name,
        "nomeMae": person.mother_name,
        "dataNascimento": person.birth_date.isoformat() if person.birth_date else None,
    }
    if person.rji_exception:
        pessoa |= {
            "rjiExcecao": True,
            "sinaisMarcas": person.physical_description,
            "foto": person.photo_ref,
        }
    return pessoa


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _warrant(p: WarrantIssued) -> dict[str, Any]:
    """Mandado de prisão: R417 art.11 (qualification, espécie, motivos, legal ground, tipo penal,
    fiança, validity), S004 10.4 (judge, court, term of a temporária), R417 art.14, 19 (the end of
    a measure)."""
    return {
        "numeroProcesso": digits(p.process_number),
        "pessoa": _pessoa(p.person),
        "orgaoJudiciario": p.issuing_court,
        "magistrado": p.judge,
        "dataAssinaturaMagistrado": p.signed_at.isoformat(),
        "especiePrisao": SPECIES_LABELS[p.species],
        "motivo": p.reason,
        "fundamentoLegal": p.legal_ground,
        "tipificacoesPenais": [{"rotulo": p.offence}],
        "valorFianca": str(p.bail_amount) if p.bail_amount is not None else None,
        "dataValidade": p.valid_until.isoformat(),
        "prazoPrisaoDias": p.term_days,
        "dataFimMedida": _iso(p.measure_end),
    }


def _release(p: ReleaseOrderIssued) -> dict[str, Any]:
    """Alvará de soltura, ordem de liberação or de desinternação: the warrants it covers and its
    motivo (R417 art.7); on the flagrante analysis, the flag and the arrest date (S002); the
    conditions imposed (R417 art.8); the unit that holds the person."""
    return {
        "tipoPeca": RELEASE_LABELS[p.order_type],
        "numeroProcesso": digits(p.process_number),
        "pessoa": _pessoa(p.person),
        "orgaoJudiciario": p.issuing_court,
        "magistrado": p.judge,
        "dataAssinaturaMagistrado": p.signed_at.isoformat(),
        "motivoExpedicao": MOTIVE_LABELS[p.motive],
        "pecasReferenciadas": [digits(w) for w in p.covered_warrants],
        "concedidaAnalisePrisaoFlagrante": p.flagrante,
        "dataPrisao": _iso(p.arrest_date),
        "unidadeCustodiante": p.custodial_unit,
        "condicoes": p.conditions,
        "contingencia": p.contingency,
        "plantao": p.plantao,
    }


def _counter(p: WarrantRevoked) -> dict[str, Any]:
    """Contramandado: the warrant it revokes and why (S002)."""
    return {
        "numeroProcesso": digits(warrant_process(p.counter_warrant_number)),
        "orgaoJudiciario": p.issuing_court,
        "dataAssinaturaMagistrado": p.signed_at.isoformat(),
        "motivo": p.reason,
        "pecasReferenciadas": [digits(p.warrant_number)],
    }


def _certificate(p: ComplianceCertified) -> dict[str, Any]:
    """Certidão de cumprimento do alvará: the actual release time is the reference (R417 art.9;
    S003 art.15), not the time of the certificate; who, where, and why a person was kept
    (S001 art.374 §3, 377 §2); the addresses and phones the released person gave (R417 art.9 §1)."""
    return {
        "pecasReferenciadas": [digits(p.order_number)],
        "liberado": p.released,
        "dataCumprimento": (p.released_at if p.released_at else p.certified_at).isoformat(),
        "dataCertidao": p.certified_at.isoformat(),
        "motivoNaoLiberacao": p.not_released_reason,
        "unidade": p.unit,
        "responsavel": {"nome": p.responsible.name, "cargo": p.responsible.role},
        "diretor": p.director,
        "enderecos": list(p.addresses),
        "telefones": list(p.phones),
    }


def _issued_at(p: AnyPayload) -> datetime:
    """When the document was issued (the certificate: when it was made), not when it travelled."""
    if isinstance(p, ComplianceCertified):
        return p.certified_at
    if isinstance(p, ReleaseOrderIssued | WarrantIssued | WarrantRevoked):
        return p.issued_at
    raise ContractError(f"{p.kind} is not registered in BNMP", reason="not_for_bnmp")


def to_peca(env: Envelope) -> dict[str, Any]:
    """The peça BNMP registers for this delivery, with every field the law asks of it, in BNMP's
    words (its piece types and sigilo levels, R417 art.34)."""
    number, doc_type = document_of(env)
    p = env.payload
    peca: dict[str, Any] = {
        "numeroPeca": digits(number),
        "tipoPeca": DOCUMENT_LABELS[doc_type],
        "sigilo": SECRECY_LABELS[env.secrecy],
        "dataExpedicao": _issued_at(p).isoformat(),
    }
    if isinstance(p, WarrantIssued):
        peca |= _warrant(p)
    elif isinstance(p, ReleaseOrderIssued):
        peca |= _release(p)
    elif isinstance(p, WarrantRevoked):
        peca |= _counter(p)
    elif isinstance(p, ComplianceCertified):
        peca |= _certificate(p)
    return peca


class _Registered(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    numeroPeca: str  # noqa: N815 - BNMP's field name


def registered(env: Envelope, body: Any, now: datetime) -> BnmpRegistrationCompleted:
    """The hub event for BNMP's answer; a malformed answer raises `ContractError` (an id the hub
    cannot keep whole is refused, never cut short: a cut id would name another document)."""
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
            document_number=number, document_type=doc_type, bnmp_id=ok.id, registered_at=now
        )
    except ValidationError:
        raise ContractError(
            "BNMP answered a registration with an id the hub cannot keep (at most 64 letters,"
            " digits and ./_-)",
            reason="malformed_answer",
        ) from None


# ------------------------------------------------------------------ the changes the hub reads


class _Evento(BaseModel):
    """The BNMP event that made a change (a BNMP 3.0 event item's fields)."""

    model_config = ConfigDict(extra="ignore")
    descricaoTipoEvento: str  # noqa: N815 - BNMP's field names
    dataEvento: AwareDatetime | None = None  # noqa: N815
    localEvento: str | None = None  # noqa: N815
    responsavelNome: str | None = None  # noqa: N815
    responsavelCargo: str | None = None  # noqa: N815


class _Item(BaseModel):
    """A light-filter item, as far as the hub reads it."""

    model_config = ConfigDict(extra="ignore")
    id: str | int | None = None
    numeroPeca: str  # noqa: N815 - BNMP's field names
    descricaoTipoPeca: str  # noqa: N815
    descricaoStatus: str  # noqa: N815
    dataAlteracao: AwareDatetime  # noqa: N815
    numeroProcesso: str | None = None  # noqa: N815
    nomePessoa: str | None = None  # noqa: N815
    nomeMae: str | None = None  # noqa: N815
    numeroCpf: str | None = None  # noqa: N815
    numeroIndividuo: str | None = None  # noqa: N815
    dataNascimento: date | None = None  # noqa: N815
    statusPessoa: str | None = None  # noqa: N815
    idOrgaoJudiciario: str | int | None = None  # noqa: N815
    siglaTribunal: str | None = None  # noqa: N815
    sigilo: str | None = None
    sigiloso: bool | None = None
    dataValidade: date | None = None  # noqa: N815
    especiePrisao: str | None = None  # noqa: N815
    evento: _Evento | None = None


@dataclass(frozen=True)
class Reading:
    """One item of a page: what the hub makes of it (maybe nothing), its key and change time."""

    key: str  # the item as read, hashed: the same item read again has the same key
    changed_at: datetime | None  # None when the item's time cannot be read
    payloads: tuple[AnyPayload, ...]


@dataclass(frozen=True)
class Page:
    """A light-filter page as the hub reads it, and whether it is the last."""

    readings: tuple[Reading, ...]
    last: bool


def read_page(page: Any, now: datetime) -> Page:
    """Read one `light-filter` page; `ContractError` only when the page itself is malformed (no
    content list). Each item is read on its own: one the hub cannot read, or whose labels it does
    not know, becomes a `BnmpChangeUnrecognised` and the rest of the page still counts."""
    if not isinstance(page, dict) or not isinstance(page.get("content"), list):
        raise ContractError(
            "BNMP light-filter answered without a content list", reason="malformed_answer"
        )
    readings = tuple(_read(raw, now) for raw in page["content"])
    return Page(readings, bool(page.get("last", True)))


def _key(raw: Any) -> str:
    text = json.dumps(raw, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


_AT = TypeAdapter(AwareDatetime)
_DOC = TypeAdapter(DocumentNumber)
_COURT = TypeAdapter(CourtUnitId)


def _raw_time(raw: Any) -> datetime | None:
    try:
        return _AT.validate_python(raw.get("dataAlteracao")) if isinstance(raw, dict) else None
    except ValidationError:
        return None


def _raw_number(raw: Any) -> str:
    number = raw.get("numeroPeca") if isinstance(raw, dict) else None
    return str(number)[:64] if number is not None else ""


def _subject(number: str) -> str:
    """The document an unrecognised report is about, masked, or `BNMP_UNREADABLE`."""
    try:
        return _DOC.validate_python(masked_number(number))
    except (ContractError, ValidationError):
        return BNMP_UNREADABLE


def _unrecognised(
    raw: Any, what: Unrecognised, label: str, now: datetime
) -> BnmpChangeUnrecognised:
    number = _raw_number(raw)
    return BnmpChangeUnrecognised(
        subject=_subject(number),
        number=number,
        what=what,
        label=" ".join(label.split())[:400] or "(vazio)",
        changed_at=_raw_time(raw),
        seen_at=now,
    )


def _fields_of(error: ValidationError) -> str:
    """Which fields are wrong, never their values (they may be personal data)."""
    names = sorted({".".join(str(x) for x in e["loc"]) or "item" for e in error.errors()})
    return "malformed item: " + ", ".join(names)


def _read(raw: Any, now: datetime) -> Reading:
    key, at = _key(raw), _raw_time(raw)
    try:
        item = _Item.model_validate(raw)
    except ValidationError as e:
        return Reading(key, at, (_unrecognised(raw, "item", _fields_of(e), now),))
    try:
        payloads = _payloads(item, raw, now)
    except ContractError as e:
        return Reading(key, at, (_unrecognised(raw, "item", e.message, now),))
    except ValidationError as e:
        return Reading(key, at, (_unrecognised(raw, "item", _fields_of(e), now),))
    return Reading(key, at, payloads)


def _payloads(item: _Item, raw: Any, now: datetime) -> tuple[AnyPayload, ...]:
    """What one readable item means: nothing, a warrant report, and whatever label the hub does
    not know (kept for an operator: a known status still applies beside an unknown event type or
    person status; an unknown status or piece type is never applied)."""
    kind = piece_kind(item.descricaoTipoPeca)
    if kind is None:
        return (_unrecognised(raw, "piece_type", item.descricaoTipoPeca, now),)
    if kind is PieceKind.OTHER:
        return ()  # not a warrant: nothing the hub keeps
    _number(item)  # a warrant the hub cannot number is unreadable, whatever its status
    status = piece_status(item.descricaoStatus)
    if status is None:
        return (_unrecognised(raw, "piece_status", item.descricaoStatus, now),)
    notes: list[AnyPayload] = []
    meaning = None
    if item.evento is not None:
        meaning = event_meaning(item.evento.descricaoTipoEvento)
        if meaning is None:
            notes.append(_unrecognised(raw, "event_type", item.evento.descricaoTipoEvento, now))
    if item.statusPessoa is not None and person_status(item.statusPessoa) is None:
        notes.append(_unrecognised(raw, "person_status", item.statusPessoa, now))
    report = _REPORTS[status](item, meaning)
    return (*report, *notes)


# ------------------------------------------------------------------ one warrant report per status


def _number(item: _Item) -> str:
    return masked_number(item.numeroPeca)


def _person(item: _Item) -> Person | None:
    """The person the warrant is against, when the item names one (CPF or RJI)."""
    if item.numeroCpf is None and item.numeroIndividuo is None:
        return None
    return Person(
        cpf=item.numeroCpf,
        rji=item.numeroIndividuo,
        name=item.nomePessoa,
        mother_name=item.nomeMae,
        birth_date=item.dataNascimento,
    )


def _court(item: _Item) -> str | None:
    """The issuing court as the hub names courts (`<tribunal>.<unit>`): the id itself when it is
    one (a court the hub serves), else the tribunal's acronym and BNMP's id of the court."""
    ident = item.idOrgaoJudiciario
    for candidate in (
        str(ident) if ident is not None else None,
        f"{item.siglaTribunal.lower()}.orgao-{ident}" if item.siglaTribunal and ident else None,
    ):
        if candidate is None:
            continue
        try:
            return _COURT.validate_python(candidate)
        except ValidationError:
            continue
    return None


def _secrecy(item: _Item) -> Secrecy:
    """The warrant's sigilo (R417 art.34): its description if BNMP gives one, else `sigiloso`."""
    if item.sigilo is not None:
        found = secrecy_of(item.sigilo)
        if found is None:  # routing depends on it: never guessed
            raise ContractError(f"unknown sigilo {item.sigilo[:40]!r}", reason="malformed_answer")
        return found
    return Secrecy.SECRET if item.sigiloso else Secrecy.PUBLIC


def _first_sight(item: _Item) -> dict[str, Any]:
    """What a report carries so that the hub can keep a warrant it never carried."""
    return {
        "warrant_number": _number(item),
        "person": _person(item),
        "issuing_court": _court(item),
        "secrecy": _secrecy(item),
    }


def _process(item: _Item) -> str:
    """The process number, masked: BNMP's `numeroProcesso`, else the number's prefix (S004 10.4
    I)."""
    d = item.numeroProcesso if item.numeroProcesso is not None else item.numeroPeca[:20]
    if len(d) != 20 or not (d.isascii() and d.isdigit()):
        raise ContractError(
            f"BNMP numeroProcesso has {len(d)} characters, expected 20 digits",
            reason="malformed_answer",
        )
    return f"{d[:7]}-{d[7:9]}.{d[9:13]}.{d[13]}.{d[14:16]}.{d[16:20]}"


def _recorded(item: _Item, status: BnmpWarrantStatus) -> WarrantRecorded:
    ps = person_status(item.statusPessoa) if item.statusPessoa else None
    return WarrantRecorded(
        **_first_sight(item),
        process_number=_process(item),
        status=status,
        changed_at=item.dataAlteracao,
        person_status=ps,
        species=species_of(item.especiePrisao) if item.especiePrisao else None,
        valid_until=item.dataValidade,
        cause=item.evento.descricaoTipoEvento if item.evento else None,
        bnmp_id=str(item.id) if item.id is not None else None,
    )


_POLICE = Official(name="Polícia Civil", role="agente")


def _complied(item: _Item) -> WarrantComplied:
    """The arrest's date, time and place are the reference (R417 art.12; S003 art.7): the
    event's, when BNMP says which event complied the warrant, else the change's time."""
    ev = item.evento
    who = _POLICE
    if ev is not None and ev.responsavelNome:
        who = Official(name=ev.responsavelNome, role=ev.responsavelCargo or "agente")
    return WarrantComplied(
        **_first_sight(item),
        complied_at=(ev.dataEvento if ev and ev.dataEvento else item.dataAlteracao),
        place=(ev.localEvento if ev and ev.localEvento else "não informado"),
        certified_by=who,
    )


def _is_expiry(item: _Item, meaning: EventMeaning | None) -> bool:
    """A revocation on expiry (S004 10.4 d; S003 art.7 sole §): the event says so, or, when BNMP
    names no other cause, the validity date had passed when it revoked the warrant."""
    if meaning is EventMeaning.EXPIRY:
        return True
    if meaning in (EventMeaning.COUNTER_WARRANT, EventMeaning.RELEASE):
        return False
    return item.dataValidade is not None and item.dataValidade < item.dataAlteracao.date()


def _revoked(item: _Item, meaning: EventMeaning | None) -> tuple[AnyPayload, ...]:
    if _is_expiry(item, meaning):
        return (WarrantExpired(**_first_sight(item), expired_at=item.dataAlteracao),)
    return (_recorded(item, BnmpWarrantStatus.REVOKED),)


_REPORTS: dict[PieceStatus, Callable[[_Item, EventMeaning | None], tuple[AnyPayload, ...]]] = {
    PieceStatus.DRAFT: lambda item, meaning: (),  # not in force yet
    PieceStatus.AWAITING_SIGNATURE: lambda item, meaning: (),
    PieceStatus.DELETED: lambda item, meaning: (),  # a draft deleted: never was in force
    PieceStatus.PENDING: lambda item, meaning: (_recorded(item, BnmpWarrantStatus.PENDING),),
    PieceStatus.COMPLIED: lambda item, meaning: (_complied(item),),
    PieceStatus.REVOKED: _revoked,
}
