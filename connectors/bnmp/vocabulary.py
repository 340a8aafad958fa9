"""BNMP's own words, and what each means to the hub (pure).

BNMP reports descriptions, not codes the hub can rely on: its 3.0 ids differ from 2.0's and are not
public (`GET /dominios`, `GET /status-pessoas` are not), so labels are compared as words, without
regard to case, accents or spacing (`normalise`). A label the hub does not know is not guessed at:
`None` here, and the caller keeps it for an operator.

Sources of the labels: piece statuses from the CNJ BNMP 2.0 FAQ and S004 ("Aguardando
Cumprimento", "Cumprido", "Revogado"); piece types from R417 art.2 and the BNMP 2.0 portal's
`idTipoPeca` list; events from R417 art.2 §1 (the events BNMP records) and the BNMP 3.0 event
"Audiência de Custódia e Análise de Prisão"; person statuses from R417 art.3 II, S002 ("Em
Liberdade"), TJES Ofício 2325093/2024 ("Aguardando Soltura") and BNMP 3.0's "Em acompanhamento de
medidas diversas da prisão". Where a label is the hub's reading of a rule rather than a label seen
in a source (e.g. the event of an automatic revocation on expiry), the comment says so.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TypeVar

from contracts import (
    BnmpDocumentType,
    PersonStatus,
    ReleaseMotive,
    ReleaseOrderType,
    Secrecy,
    WarrantSpecies,
)

__all__ = [
    "DOCUMENT_LABELS",
    "MOTIVE_LABELS",
    "RELEASE_LABELS",
    "SECRECY_LABELS",
    "SPECIES_LABELS",
    "EventMeaning",
    "PieceKind",
    "PieceStatus",
    "event_meaning",
    "normalise",
    "person_status",
    "piece_kind",
    "piece_status",
    "secrecy_of",
    "species_of",
]


def normalise(label: str) -> str:
    """A label as compared: accents dropped, case folded, spacing collapsed ("CUMPRIDO",
    "Cumprido" and " cumprido " are one word; so are "Em Liberdade" and "EM LIBERDADE")."""
    decomposed = unicodedata.normalize("NFKD", label)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


T = TypeVar("T")


def _table(entries: Mapping[T, Iterable[str]]) -> dict[str, T]:
    """Every label of every meaning, normalised; a label with two meanings is a mistake."""
    table: dict[str, T] = {}
    for meaning, labels in entries.items():
        for label in labels:
            key = normalise(label)
            if key in table:
                raise ValueError(f"BNMP label {label!r} has two meanings")
            table[key] = meaning
    return table


class PieceStatus(StrEnum):
    """The status of a peça in BNMP (its lifecycle: R417; CNJ BNMP FAQ)."""

    DRAFT = "draft"  # Em Elaboração: not signed, not in force
    AWAITING_SIGNATURE = "awaiting_signature"  # Aguardando Assinatura: not in force yet
    PENDING = "pending"  # Aguardando Cumprimento / Pendente: in force
    COMPLIED = "complied"  # Cumprido
    REVOKED = "revoked"  # Revogado: by a contramandado, a release order, or on expiry
    DELETED = "deleted"  # Excluído: a draft deleted, never in force


_STATUSES = _table(
    {
        PieceStatus.DRAFT: ("Em Elaboração",),
        PieceStatus.AWAITING_SIGNATURE: ("Aguardando Assinatura",),
        PieceStatus.PENDING: (
            "Aguardando Cumprimento",
            "Pendente",
            "Pendente de Cumprimento",
        ),
        PieceStatus.COMPLIED: ("Cumprido", "Cumprida"),
        PieceStatus.REVOKED: ("Revogado", "Revogada"),
        PieceStatus.DELETED: ("Excluído", "Excluída"),
    }
)


def piece_status(label: str) -> PieceStatus | None:
    """What a `descricaoStatus` means; None for a label the hub does not know."""
    return _STATUSES.get(normalise(label))


class PieceKind(StrEnum):
    """What a peça is to the hub: a warrant it keeps (one that can keep a person detained), or a
    document whose changes it does not follow (its own release orders and certificates come back
    through their registration; guias and certidões are not its business)."""

    ARREST_WARRANT = "arrest_warrant"  # mandado de prisão
    INTERNMENT_WARRANT = "internment_warrant"  # mandado de internação
    OTHER = "other"


_KINDS = _table(
    {
        PieceKind.ARREST_WARRANT: ("Mandado de Prisão",),
        PieceKind.INTERNMENT_WARRANT: ("Mandado de Internação",),
        PieceKind.OTHER: (
            "Alvará de Soltura",
            "Ordem de Liberação",
            "Ordem de Desinternação",
            "Documento de Desinternamento",
            "Contramandado",
            "Certidão de Cumprimento de Mandado de Prisão",
            "Certidão de Cumprimento das Prisões",
            "Certidão de Cumprimento de Mandado de Internação",
            "Certidão de Cumprimento das Internações",
            "Certidão de Cumprimento de Alvará de Soltura",
            "Certidão de Extinção de Punibilidade",
            "Certidão de Extinção da Punibilidade por Morte",
            "Certidão de Arquivamento de Guia",
            "Certidão de Alteração de Unidade ou Regime Prisional",
            "Guia de Recolhimento",
            "Guia de Recolhimento (Acervo da Execução)",
            "Guia de Internamento",
            "Guia de Internação",
            "Guia de Internação (Acervo)",
            "Guia de Execução",
            "Mandado de Monitoramento Eletrônico",
            "Mandado de Medidas Diversas da Prisão",
            "Mandado de Medidas Diversas da Prisão em Execução",
            "Mandado de Medida Cautelar Diversa da Prisão",
            "Mandado de Medida Protetiva",
            "Mandado de Condução Coercitiva",
        ),
    }
)


def piece_kind(label: str) -> PieceKind | None:
    """What a `descricaoTipoPeca` is to the hub; None for a type the hub does not know."""
    return _KINDS.get(normalise(label))


class EventMeaning(StrEnum):
    """What the BNMP event behind a change means to the hub."""

    ISSUE = "issue"  # the warrant was issued (created, signed, published)
    COMPLIANCE = "compliance"  # the arrest, certified by the court or the police
    EXPIRY = "expiry"  # revoked because its validity date passed (S003 art.7 sole §)
    COUNTER_WARRANT = "counter_warrant"  # revoked by a contramandado (S004 10.4 c)
    RELEASE = "release"  # revoked by a release order (S002)
    ANNULMENT = "annulment"  # a compliance certificate annulled: pending again
    OTHER = "other"  # recorded in BNMP (R417 art.2 §1), no change to what the hub keeps


_EVENTS = _table(
    {
        EventMeaning.ISSUE: (
            "Expedição",
            "Expedição de Mandado de Prisão",
            "Assinatura",
            "Assinatura do Magistrado",
            "Publicação",
            "Criação",
        ),
        EventMeaning.COMPLIANCE: (
            "Cumprimento de Mandado de Prisão",
            "Cumprimento de Mandado de Internação",
            "Cumprimento Automático",  # S003 art.7; R417 art.12 sole § (the person's others)
        ),
        # The hub's wording of the automatic revocation on expiry (S004 10.4 d; S003 art.7 sole §).
        EventMeaning.EXPIRY: (
            "Revogação Automática",
            "Revogação Automática por Decurso do Prazo de Validade",
            "Expiração do Prazo de Validade",
        ),
        EventMeaning.COUNTER_WARRANT: ("Contramandado", "Revogação por Contramandado"),
        EventMeaning.RELEASE: (
            "Alvará de Soltura",
            "Revogação por Alvará de Soltura",
            "Ordem de Desinternação",
        ),
        EventMeaning.ANNULMENT: ("Anulação de Certidão de Cumprimento",),
        EventMeaning.OTHER: (
            "Auto de Prisão em Flagrante",
            "Audiência de Custódia",
            "Audiência de Custódia e Análise de Prisão",
            "Cumprimento de Alvará de Soltura",
            "Fuga",
            "Evasão",
            "Mudança de Unidade Prisional",
            "Regime Disciplinar Diferenciado",
            "Transferência de Juízo",
            "Unificação",
            "Saída Temporária",
            "Retificação",
        ),
    }
)


def event_meaning(label: str) -> EventMeaning | None:
    """What a `descricaoTipoEvento` means; None for an event type the hub does not know."""
    return _EVENTS.get(normalise(label))


_PERSON = _table(
    {
        PersonStatus.PRISONER: ("Preso", "Presa", "Privado de Liberdade", "Privada de Liberdade"),
        PersonStatus.WANTED: ("Procurado", "Procurada"),
        PersonStatus.FUGITIVE: ("Foragido", "Foragida"),
        PersonStatus.FREE: ("Em Liberdade",),
        PersonStatus.AWAITING_RELEASE: ("Aguardando Soltura",),
        PersonStatus.INTERNED: ("Internado", "Internada"),
        PersonStatus.ALTERNATIVE_MEASURES: ("Em acompanhamento de medidas diversas da prisão",),
        PersonStatus.INACTIVE: ("Falecido", "Falecida", "Inativo", "Inativa"),
    }
)


def person_status(label: str) -> PersonStatus | None:
    """What a `statusPessoa` means; None for a status the hub does not know."""
    return _PERSON.get(normalise(label))


# The hub's words, as BNMP says them (what `to_peca` sends).
DOCUMENT_LABELS: Mapping[BnmpDocumentType, str] = {
    BnmpDocumentType.RELEASE_ORDER: "Alvará de Soltura",
    BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE: "Certidão de Cumprimento de Alvará de Soltura",
    BnmpDocumentType.WARRANT: "Mandado de Prisão",
    BnmpDocumentType.COUNTER_WARRANT: "Contramandado",
    BnmpDocumentType.WARRANT_COMPLIANCE_CERTIFICATE: "Certidão de Cumprimento de Mandado de Prisão",
}
# The release documents of S002: ordem de liberação is BNMP 2.0's (a motive of the alvará in 3.0).
RELEASE_LABELS: Mapping[ReleaseOrderType, str] = {
    "alvara_soltura": "Alvará de Soltura",
    "ordem_liberacao": "Ordem de Liberação",
    "ordem_desinternacao": "Ordem de Desinternação",
}
# Visibility of a document (R417 art.34).
SECRECY_LABELS: Mapping[Secrecy, str] = {
    Secrecy.PUBLIC: "Aberto",
    Secrecy.RESTRICTED: "Restrito",
    Secrecy.SECRET: "Sigiloso",
}
_SECRECY = _table({s: (label,) for s, label in SECRECY_LABELS.items()})


def secrecy_of(label: str) -> Secrecy | None:
    """What a `sigilo` description means; None for one the hub does not know."""
    return _SECRECY.get(normalise(label))


# Espécies of arrest and measure (R417 art.2, art.11 sole §).
SPECIES_LABELS: Mapping[WarrantSpecies, str] = {
    WarrantSpecies.PREVENTIVE: "Prisão Preventiva",
    WarrantSpecies.TEMPORARY: "Prisão Temporária",
    WarrantSpecies.CONVICTION: "Prisão em Razão de Condenação",
    WarrantSpecies.RECAPTURE: "Recaptura",
    WarrantSpecies.CIVIL_ALIMONY: "Prisão Civil por Alimentos",
    WarrantSpecies.EXTRADITION: "Prisão para Deportação, Extradição ou Expulsão",
    WarrantSpecies.INTERNMENT: "Internação",
    WarrantSpecies.ELECTRONIC_MONITORING: "Monitoramento Eletrônico",
    WarrantSpecies.ALTERNATIVE_MEASURE: "Medida Cautelar Diversa da Prisão",
}
_SPECIES = _table({s: (label,) for s, label in SPECIES_LABELS.items()})


def species_of(label: str) -> WarrantSpecies | None:
    """What an `especiePrisao` description means; None for one the hub does not know."""
    return _SPECIES.get(normalise(label))


_M = ReleaseMotive
# Motivos da expedição do alvará (R417 art.7, and the older wording).
MOTIVE_LABELS: Mapping[ReleaseMotive, str] = {
    _M.PROVISIONAL_RELEASE: "Liberdade Provisória",
    _M.ARREST_RELAXED: "Relaxamento da Prisão",
    _M.ACQUITTAL: "Absolvição",
    _M.POLICE_BAIL_PAID: "Fiança Arbitrada pela Autoridade Policial e Paga",
    _M.TEMPORARY_ARREST_REVOKED: "Revogação da Prisão Temporária",
    _M.PREVENTIVE_ARREST_REVOKED: "Revogação da Prisão Preventiva",
    _M.INDICTMENT_REJECTED: "Rejeição da Denúncia",
    _M.NON_INDICTMENT: "Impronúncia",
    _M.PROCEEDINGS_QUASHED: "Trancamento",
    _M.OPEN_REGIME_CONVICTION: "Condenação em Regime Aberto",
    _M.HOUSE_ARREST: "Prisão Domiciliar",
    _M.PUNISHABILITY_EXTINGUISHED: "Extinção da Punibilidade",
    _M.SENTENCE_EXTINGUISHED: "Extinção da Pena",
    _M.REGIME_PROGRESSION: "Progressão de Regime",
    _M.SEMI_OPEN_WITH_CONDITIONS: "Semiaberto com Condições",
    _M.PAROLE: "Livramento Condicional",
    _M.ALIMONY_DEBT_PAID: "Quitação do Débito Alimentar",
    _M.INDIGENOUS_SEMI_LIBERTY: "Semiliberdade Indígena",
    _M.HABEAS_CORPUS: "Habeas Corpus",
    _M.TEMPORARY_ARREST_ENDED: "Término da Prisão Temporária",
    _M.HUMANITARIAN_PARDON: "Indulto Humanitário",
    _M.SECURITY_MEASURE_ENDED: "Término da Medida de Segurança",
}
