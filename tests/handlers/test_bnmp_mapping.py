"""BNMP's mapping as tables: its vocabulary, the peça each delivery registers, its answers, and the
light-filter pages the poller reads.

The fixtures are shaped like BNMP's DTOs: a registered peça `{id, numeroPeca, tipoPeca, status}`,
Spring pages `{content, totalElements, last}`, and light-filter items with BNMP 3.0's fields
(id, numeroPeca, descricaoTipoPeca, descricaoStatus, nomePessoa, numeroCpf, numeroProcesso,
dataNascimento, idOrgaoJudiciario, siglaTribunal) and what the hub reads beside them
(dataAlteracao, dataValidade, especiePrisao, statusPessoa, sigilo, evento): the simulator serves
the same shape (`test_the_simulator_serves_what_the_mapping_reads`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from connectors.bnmp.mapping import (
    digits,
    document_of,
    masked_number,
    read_page,
    registered,
    to_peca,
)
from connectors.bnmp.vocabulary import (
    EventMeaning,
    PieceKind,
    PieceStatus,
    event_meaning,
    normalise,
    person_status,
    piece_kind,
    piece_status,
)
from contracts import (
    BNMP_UNREADABLE,
    BnmpChangeUnrecognised,
    BnmpDocumentType,
    BnmpRegistrationCompleted,
    BnmpWarrantStatus,
    ContractError,
    PersonStatus,
    Secrecy,
    WarrantComplied,
    WarrantExpired,
    WarrantRecorded,
    WarrantSpecies,
    format_bnmp_number,
)
from contracts.envelope import AnyPayload
from contracts.people import Official, Person
from sandbox.simulators.bnmp import BnmpSimulator, Issue
from tests.factories import (
    BRT,
    COUNTER_WARRANT,
    COURT,
    CPF,
    ORDER,
    OTHER_PROCESS,
    RJI,
    T0,
    UNIT,
    WARRANT,
    make_alert,
    make_compliance,
    make_envelope,
    make_receipt,
    make_referral,
    make_registration,
    make_rejection,
    make_release_order,
    make_revocation,
    make_validation,
    make_warrant,
    make_warrant_complied,
    make_warrant_expired,
)

NOW = datetime(2024, 3, 1, 13, 5, tzinfo=UTC)

# The default documents' numbers, unmasked by hand (BNMP stores digits only).
PROCESS_DIGITS = "00012340520238130024"
ORDER_DIGITS = PROCESS_DIGITS + "0002"
WARRANT_DIGITS = PROCESS_DIGITS + "0001"
COUNTER_DIGITS = PROCESS_DIGITS + "0003"
# A warrant issued in BNMP itself: process, piece type 01, sequence 0001, 2 check digits.
OTHER_DIGITS = "00056781820228130024"
BNMP_DIGITS = OTHER_DIGITS + "01" + "0001" + "37"
BNMP_WARRANT = "0005678-18.2022.8.13.0024.01.0001-37"

PESSOA = {
    "numeroCpf": CPF,
    "numeroIndividuo": None,
    "nome": "Fulano de Tal",
    "nomeMae": "Beltrana de Tal",
    "dataNascimento": "1990-05-17",
}
SIGNED = "2024-03-01T10:05:00-03:00"  # the factories' signed_at (T0 + 5 min)

# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("number", "unmasked"),
    [
        (ORDER, ORDER_DIGITS),
        ("0001234-05.2023.8.13.0024", PROCESS_DIGITS),
        (BNMP_WARRANT, BNMP_DIGITS),
        (ORDER_DIGITS, ORDER_DIGITS),  # already digits: unchanged
        ("", ""),
    ],
)
def test_digits_unmasks(number: str, unmasked: str) -> None:
    """A masked CNJ or document number loses every non-digit."""
    assert digits(number) == unmasked


@pytest.mark.parametrize(
    ("unmasked", "masked"),
    [
        pytest.param(ORDER_DIGITS, ORDER, id="24-digits-the-hubs-own"),
        pytest.param(BNMP_DIGITS, BNMP_WARRANT, id="28-digits-bnmp-3.0"),
    ],
)
def test_masked_number_puts_the_mask_back(unmasked: str, masked: str) -> None:
    """The hub's 24-digit numbers and BNMP 2.0/3.0's 28-digit `numeroPeca` both come back."""
    assert masked_number(unmasked) == masked
    assert format_bnmp_number(BNMP_DIGITS) == BNMP_WARRANT


@pytest.mark.parametrize(
    ("unmasked", "fragment"),
    [
        (PROCESS_DIGITS, "has 20 characters"),  # a process number, no sequence
        (ORDER_DIGITS + "00", "has 26 characters"),
        (BNMP_DIGITS[:-1], "has 27 characters"),
        (BNMP_DIGITS + "0", "has 29 characters"),
        (ORDER, "has 30 characters"),  # still masked
        ("0001234x0520238130240002", "has 24 characters"),  # 24 characters, not all digits
        ("٠" * 24, "has 24 characters"),  # Arabic-Indic digits are not digits here
        ("", "has 0 characters"),
    ],
)
def test_masked_number_refuses_other_shapes(unmasked: str, fragment: str) -> None:
    """Anything but 24 or 28 ASCII digits is a malformed answer from BNMP."""
    with pytest.raises(ContractError, match=fragment) as caught:
        masked_number(unmasked)
    assert caught.value.reason == "malformed_answer"


# ---------------------------------------------------------------- vocabulary


@pytest.mark.parametrize(
    ("label", "status"),
    [
        ("Aguardando Cumprimento", PieceStatus.PENDING),
        ("AGUARDANDO CUMPRIMENTO", PieceStatus.PENDING),
        ("Pendente", PieceStatus.PENDING),
        ("Pendente de Cumprimento", PieceStatus.PENDING),
        ("Cumprido", PieceStatus.COMPLIED),
        ("CUMPRIDO", PieceStatus.COMPLIED),
        ("cumprida", PieceStatus.COMPLIED),
        ("Revogado", PieceStatus.REVOKED),
        ("  revogado ", PieceStatus.REVOKED),
        ("Em Elaboração", PieceStatus.DRAFT),
        ("EM ELABORACAO", PieceStatus.DRAFT),
        ("Aguardando Assinatura", PieceStatus.AWAITING_SIGNATURE),
        ("Excluído", PieceStatus.DELETED),
        ("EXCLUIDO", PieceStatus.DELETED),
        ("EXPIRADO", None),  # not BNMP's: expiry ends in "Revogado" (S003 art.7 sole §)
        ("Ativo", None),
        ("Suspenso", None),
        ("", None),
    ],
)
def test_piece_statuses(label: str, status: PieceStatus | None) -> None:
    """BNMP's piece statuses, compared without regard to case, accents or spacing."""
    assert piece_status(label) is status


@pytest.mark.parametrize(
    ("label", "meaning"),
    [
        ("Expedição de Mandado de Prisão", EventMeaning.ISSUE),
        ("Assinatura do Magistrado", EventMeaning.ISSUE),
        ("Cumprimento de Mandado de Prisão", EventMeaning.COMPLIANCE),
        ("CUMPRIMENTO DE MANDADO DE PRISAO", EventMeaning.COMPLIANCE),
        ("Cumprimento de Mandado de Internação", EventMeaning.COMPLIANCE),
        ("Cumprimento Automático", EventMeaning.COMPLIANCE),
        ("Revogação Automática", EventMeaning.EXPIRY),
        ("Expiração do Prazo de Validade", EventMeaning.EXPIRY),
        ("Revogação por Contramandado", EventMeaning.COUNTER_WARRANT),
        ("Revogação por Alvará de Soltura", EventMeaning.RELEASE),
        ("Anulação de Certidão de Cumprimento", EventMeaning.ANNULMENT),
        ("Audiência de Custódia e Análise de Prisão", EventMeaning.OTHER),
        ("Fuga", EventMeaning.OTHER),
        ("Evasão", EventMeaning.OTHER),
        ("Mudança de Unidade Prisional", EventMeaning.OTHER),
        ("Cumprimento de Alvará de Soltura", EventMeaning.OTHER),
        ("Saída Temporária", EventMeaning.OTHER),
        ("Recaptura Eletrônica", None),
    ],
)
def test_event_types(label: str, meaning: EventMeaning | None) -> None:
    """BNMP's event types (R417 art.2 §1) and what each means to the hub; unknown ones: None."""
    assert event_meaning(label) is meaning


@pytest.mark.parametrize(
    ("label", "status"),
    [
        ("Preso", PersonStatus.PRISONER),
        ("Privada de Liberdade", PersonStatus.PRISONER),
        ("Procurado", PersonStatus.WANTED),
        ("Foragido", PersonStatus.FUGITIVE),
        ("Em Liberdade", PersonStatus.FREE),
        ("EM LIBERDADE", PersonStatus.FREE),
        ("Aguardando Soltura", PersonStatus.AWAITING_RELEASE),
        ("Internado", PersonStatus.INTERNED),
        ("Em acompanhamento de medidas diversas da prisão", PersonStatus.ALTERNATIVE_MEASURES),
        ("Falecido", PersonStatus.INACTIVE),
        ("Em Trânsito", None),
    ],
)
def test_person_statuses(label: str, status: PersonStatus | None) -> None:
    """BNMP's `statusPessoa` (R417 art.3 II; S002; TJES-OF), compared as words."""
    assert person_status(label) is status


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("Mandado de Prisão", PieceKind.ARREST_WARRANT),
        ("MANDADO DE PRISAO", PieceKind.ARREST_WARRANT),
        ("Mandado de Internação", PieceKind.INTERNMENT_WARRANT),
        ("Alvará de Soltura", PieceKind.OTHER),
        ("Contramandado", PieceKind.OTHER),
        ("Guia de Recolhimento", PieceKind.OTHER),
        ("Mandado de Monitoramento Eletrônico", PieceKind.OTHER),
        ("Mandado de Medidas Diversas da Prisão em Execução", PieceKind.OTHER),
        ("Mandado de Prisão Domiciliar Especial", None),
    ],
)
def test_piece_types(label: str, kind: PieceKind | None) -> None:
    """Warrants that can keep a person detained are the hub's; other known types are not."""
    assert piece_kind(label) is kind


def test_normalise() -> None:
    """Accents, case and spacing do not count; the words do."""
    assert normalise("  Revogação   AUTOMÁTICA ") == "revogacao automatica"


# ---------------------------------------------------------------- document_of


@pytest.mark.parametrize(
    ("payload", "number", "doc_type"),
    [
        (make_release_order(), ORDER, BnmpDocumentType.RELEASE_ORDER),
        (make_compliance(), ORDER, BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE),
        (make_compliance(released=False), ORDER, BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE),
        (make_warrant(), WARRANT, BnmpDocumentType.WARRANT),
        (make_revocation(), COUNTER_WARRANT, BnmpDocumentType.COUNTER_WARRANT),
    ],
    ids=["release-order", "certificate-released", "certificate-kept", "warrant", "counter"],
)
def test_document_of(payload: AnyPayload, number: str, doc_type: BnmpDocumentType) -> None:
    """Each registrable payload is one BNMP document: its own number (the counter-warrant's, not
    the revoked warrant's; the order's for its compliance certificate) and its type."""
    assert document_of(make_envelope(payload)) == (number, doc_type)


NOT_FOR_BNMP = [
    make_receipt(),
    make_validation(),
    make_registration(),
    make_rejection(),
    make_warrant_complied(),
    make_warrant_expired(),
    make_referral(),
    make_alert(),
]


@pytest.mark.parametrize("payload", NOT_FOR_BNMP, ids=lambda p: p.kind)
def test_document_of_refuses_what_bnmp_does_not_register(payload: AnyPayload) -> None:
    """Receipts, SETARIM certificates, BNMP's own events and hub alerts are not BNMP documents."""
    with pytest.raises(ContractError, match=f"{payload.kind} is not registered in BNMP") as caught:
        document_of(make_envelope(payload))
    assert caught.value.reason == "not_for_bnmp"


# ---------------------------------------------------------------- to_peca

ORDER_PECA: dict[str, Any] = {
    "numeroPeca": ORDER_DIGITS,
    "tipoPeca": "Alvará de Soltura",
    "sigilo": "Aberto",
    "dataExpedicao": "2024-03-01T10:00:00-03:00",  # the document's issued_at (T0), not sent-at
    "numeroProcesso": PROCESS_DIGITS,
    "pessoa": PESSOA,
    "orgaoJudiciario": COURT,
    "magistrado": "Juíza Exemplo",
    "dataAssinaturaMagistrado": SIGNED,
    "motivoExpedicao": "Liberdade Provisória",
    "pecasReferenciadas": [WARRANT_DIGITS],
    "concedidaAnalisePrisaoFlagrante": False,
    "dataPrisao": None,
    "unidadeCustodiante": UNIT,
    "condicoes": None,
    "contingencia": False,
    "plantao": False,
}
WARRANT_PECA: dict[str, Any] = {
    "numeroPeca": WARRANT_DIGITS,
    "tipoPeca": "Mandado de Prisão",
    "sigilo": "Aberto",
    "dataExpedicao": "2024-01-31T10:00:00-03:00",  # issued_at: T0 - 30 days
    "numeroProcesso": PROCESS_DIGITS,
    "pessoa": PESSOA,
    "orgaoJudiciario": COURT,
    "magistrado": "Juíza Exemplo",
    "dataAssinaturaMagistrado": "2024-01-31T10:00:00-03:00",
    "especiePrisao": "Prisão Preventiva",
    "motivo": "conversão do flagrante em preventiva",
    "fundamentoLegal": "CPP art. 312",
    "tipificacoesPenais": [{"rotulo": "CP art. 157"}],
    "valorFianca": None,
    "dataValidade": "2036-03-01",
    "prazoPrisaoDias": None,
    "dataFimMedida": None,
}
CERTIFICATE_PECA: dict[str, Any] = {
    "numeroPeca": ORDER_DIGITS,
    "tipoPeca": "Certidão de Cumprimento de Alvará de Soltura",
    "sigilo": "Aberto",
    "dataExpedicao": "2024-03-01T12:10:00-03:00",  # when the certificate was made
    "pecasReferenciadas": [ORDER_DIGITS],
    "liberado": True,
    "dataCumprimento": "2024-03-01T12:00:00-03:00",  # released_at: the reference (R417 art.9)
    "dataCertidao": "2024-03-01T12:10:00-03:00",
    "motivoNaoLiberacao": None,
    "unidade": UNIT,
    "responsavel": {"nome": "Sicrano Servidor", "cargo": "agente de segurança"},
    "diretor": "Diretor Exemplo",
    "enderecos": ["Rua Exemplo, 100, Belo Horizonte/MG"],
    "telefones": ["+55 31 90000-0000"],
}

PECAS = [
    pytest.param(make_release_order(), ORDER_PECA, id="release-order"),
    pytest.param(
        make_release_order(covered_warrants=(), flagrante=True, arrest_date=date(2024, 2, 29)),
        ORDER_PECA
        | {
            "pecasReferenciadas": [],
            "concedidaAnalisePrisaoFlagrante": True,  # S002: no warrant, the arrest date instead
            "dataPrisao": "2024-02-29",
        },
        id="release-order-on-flagrante",
    ),
    pytest.param(
        make_release_order(
            order_type="ordem_desinternacao",
            motive="security_measure_ended",
            conditions="comparecimento mensal",
            plantao=True,
        ),
        ORDER_PECA
        | {
            "tipoPeca": "Ordem de Desinternação",
            "motivoExpedicao": "Término da Medida de Segurança",
            "condicoes": "comparecimento mensal",
            "plantao": True,
        },
        id="ordem-de-desinternacao",
    ),
    pytest.param(
        make_release_order(order_type="ordem_liberacao", motive="house_arrest"),
        ORDER_PECA | {"tipoPeca": "Ordem de Liberação", "motivoExpedicao": "Prisão Domiciliar"},
        id="ordem-de-liberacao",
    ),
    pytest.param(
        make_release_order(
            covered_warrants=(WARRANT, BNMP_WARRANT),
            contingency=True,
            outage_started_at=T0 - timedelta(hours=2),
            person={"rji": RJI, "name": "Fulano de Tal"},
        ),
        ORDER_PECA
        | {
            "pessoa": {
                "numeroCpf": None,
                "numeroIndividuo": RJI,
                "nome": "Fulano de Tal",
                "nomeMae": None,
                "dataNascimento": None,
            },
            "pecasReferenciadas": [WARRANT_DIGITS, BNMP_DIGITS],  # a warrant issued in BNMP too
            "contingencia": True,
        },
        id="release-order-contingency-rji-bnmp-warrant",
    ),
    pytest.param(make_compliance(), CERTIFICATE_PECA, id="certificate-released"),
    pytest.param(
        make_compliance(released=False),
        CERTIFICATE_PECA
        | {
            "liberado": False,
            "dataCumprimento": "2024-03-01T12:10:00-03:00",  # kept: complied when certified
            "motivoNaoLiberacao": "preso por outro processo",
            "enderecos": [],
            "telefones": [],
        },
        id="certificate-kept",
    ),
    pytest.param(make_warrant(), WARRANT_PECA, id="warrant"),
    pytest.param(
        make_warrant(
            species=WarrantSpecies.TEMPORARY,
            term_days=5,
            bail_amount=Decimal("1500.00"),
            secrecy=Secrecy.SECRET,
        ),
        WARRANT_PECA
        | {
            "sigilo": "Sigiloso",
            "especiePrisao": "Prisão Temporária",
            "prazoPrisaoDias": 5,
            "valorFianca": "1500.00",
        },
        id="secret-temporary-warrant-with-bail",
    ),
    pytest.param(
        make_warrant(species=WarrantSpecies.ELECTRONIC_MONITORING, measure_end=date(2024, 9, 1)),
        WARRANT_PECA | {"especiePrisao": "Monitoramento Eletrônico", "dataFimMedida": "2024-09-01"},
        id="monitoring-with-its-end",
    ),
    pytest.param(
        make_revocation(),
        {
            "numeroPeca": COUNTER_DIGITS,
            "tipoPeca": "Contramandado",
            "sigilo": "Aberto",
            "dataExpedicao": "2024-03-01T10:00:00-03:00",
            "numeroProcesso": PROCESS_DIGITS,
            "orgaoJudiciario": COURT,
            "dataAssinaturaMagistrado": "2024-03-01T10:00:00-03:00",
            "motivo": "revogação da preventiva",
            "pecasReferenciadas": [WARRANT_DIGITS],
        },
        id="counter-warrant",
    ),
]


@pytest.mark.parametrize(("payload", "peca"), PECAS)
def test_to_peca(payload: AnyPayload, peca: dict[str, Any]) -> None:
    """The whole peça, field by field, in BNMP's words: nothing more, nothing less."""
    assert to_peca(make_envelope(payload)) == peca


def test_the_certificate_registers_the_release_time_not_the_certification_time() -> None:
    """Released at 05:00, certified at 10:00: BNMP is told 05:00 (R417 art.9; S003 art.15)."""
    five = datetime(2024, 3, 2, 5, 0, tzinfo=BRT)
    payload = make_compliance(released_at=five, certified_at=five + timedelta(hours=5))
    peca = to_peca(make_envelope(payload))
    assert (peca["dataCumprimento"], peca["dataCertidao"]) == (
        "2024-03-02T05:00:00-03:00",
        "2024-03-02T10:00:00-03:00",
    )


@pytest.mark.parametrize("payload", NOT_FOR_BNMP[:2], ids=lambda p: p.kind)
def test_to_peca_refuses_what_bnmp_does_not_register(payload: AnyPayload) -> None:
    """No peça for a document BNMP does not keep."""
    with pytest.raises(ContractError) as caught:
        to_peca(make_envelope(payload))
    assert caught.value.reason == "not_for_bnmp"


# ---------------------------------------------------------------- registered


def _answer(number: str, doc_type: BnmpDocumentType, bnmp_id: str = "BNMP-0000001") -> Any:
    """BNMP's answer to a registration (201, or 409 with the first registration)."""
    return {"id": bnmp_id, "numeroPeca": number, "tipoPeca": doc_type.value, "status": "Ativo"}


REGISTERED = [
    pytest.param(
        make_release_order(),
        _answer(ORDER_DIGITS, BnmpDocumentType.RELEASE_ORDER),
        (ORDER, BnmpDocumentType.RELEASE_ORDER, "BNMP-0000001"),
        id="release-order",
    ),
    pytest.param(
        make_compliance(),
        _answer(ORDER_DIGITS, BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE, "BNMP-0000002"),
        (ORDER, BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE, "BNMP-0000002"),
        id="certificate",
    ),
    pytest.param(
        make_warrant(),
        _answer(WARRANT_DIGITS, BnmpDocumentType.WARRANT, "7001"),
        (WARRANT, BnmpDocumentType.WARRANT, "7001"),
        id="warrant",
    ),
    pytest.param(
        make_revocation(),
        _answer(COUNTER_DIGITS, BnmpDocumentType.COUNTER_WARRANT, "B" * 64)
        | {"extra": {"ignored": 1}},
        (COUNTER_WARRANT, BnmpDocumentType.COUNTER_WARRANT, "B" * 64),
        id="counter-warrant-64-character-id-extra-fields-ignored",
    ),
]


@pytest.mark.parametrize(("payload", "body", "expected"), REGISTERED)
def test_registered(
    payload: AnyPayload, body: Any, expected: tuple[str, BnmpDocumentType, str]
) -> None:
    """BNMP's answer becomes the registration event of that document, at the hub's `now`."""
    number, doc_type, bnmp_id = expected
    assert registered(make_envelope(payload), body, NOW) == BnmpRegistrationCompleted(
        document_number=number, document_type=doc_type, bnmp_id=bnmp_id, registered_at=NOW
    )


MALFORMED_REGISTRATIONS = [
    pytest.param([], "without id/numeroPeca", id="a-list"),
    pytest.param(None, "without id/numeroPeca", id="null"),
    pytest.param("created", "without id/numeroPeca", id="a-string"),
    pytest.param({"numeroPeca": ORDER_DIGITS}, "without id/numeroPeca", id="no-id"),
    pytest.param({"id": "BNMP-1"}, "without id/numeroPeca", id="no-numero-peca"),
    pytest.param({"id": 1, "numeroPeca": ORDER_DIGITS}, "without id/numeroPeca", id="id-not-text"),
    pytest.param(
        _answer(WARRANT_DIGITS, BnmpDocumentType.RELEASE_ORDER), "another document", id="other-doc"
    ),
    pytest.param(
        _answer(ORDER, BnmpDocumentType.RELEASE_ORDER), "another document", id="masked-number"
    ),
    pytest.param(
        _answer(ORDER_DIGITS, BnmpDocumentType.RELEASE_ORDER, "BNMP 1"),
        "id the hub cannot keep",
        id="id-with-a-space",
    ),
    pytest.param(
        _answer(ORDER_DIGITS, BnmpDocumentType.RELEASE_ORDER, ""),
        "id the hub cannot keep",
        id="empty-id",
    ),
    pytest.param(
        # Refused, never cut to 64: the first 64 characters may be another document's id.
        _answer(ORDER_DIGITS, BnmpDocumentType.RELEASE_ORDER, "B" * 65),
        "id the hub cannot keep",
        id="id-over-64-characters",
    ),
]


@pytest.mark.parametrize(("body", "fragment"), MALFORMED_REGISTRATIONS)
def test_registered_refuses_malformed_answers(body: Any, fragment: str) -> None:
    """An answer without a usable id, or for another document, is a malformed answer."""
    with pytest.raises(ContractError, match=fragment) as caught:
        registered(make_envelope(make_release_order()), body, NOW)
    assert caught.value.reason == "malformed_answer"


def test_registered_refuses_what_bnmp_does_not_register() -> None:
    """An answer to a delivery that BNMP never takes is refused before the body is read."""
    with pytest.raises(ContractError) as caught:
        registered(
            make_envelope(make_receipt()), _answer(ORDER_DIGITS, BnmpDocumentType.WARRANT), NOW
        )
    assert caught.value.reason == "not_for_bnmp"


# ---------------------------------------------------------------- light-filter pages

AT = datetime(2024, 3, 1, 10, 0, tzinfo=BRT)
ARRESTED = AT - timedelta(hours=3)
PERSON = Person(cpf=CPF, name="Fulano de Tal", birth_date=date(1990, 5, 17))
FIRST_SIGHT: dict[str, Any] = {
    "warrant_number": BNMP_WARRANT,
    "person": PERSON,
    "issuing_court": "tjsp.orgao-4321",
    "secrecy": Secrecy.PUBLIC,
}


def _event(label: str, at: datetime = AT, **extra: Any) -> dict[str, Any]:
    return {"descricaoTipoEvento": label, "dataEvento": at.isoformat(), **extra}


def _item(status: str = "Aguardando Cumprimento", **fields: Any) -> dict[str, Any]:
    """A light-filter item of a warrant issued in BNMP (as the simulator serves it)."""
    item = {
        "id": "BNMP-0000007",
        "numeroPeca": BNMP_DIGITS,
        "descricaoTipoPeca": "Mandado de Prisão",
        "descricaoStatus": status,
        "dataAlteracao": AT.isoformat(),
        "numeroProcesso": OTHER_DIGITS,
        "numeroCpf": CPF,
        "numeroIndividuo": None,
        "nomePessoa": "Fulano de Tal",
        "dataNascimento": "1990-05-17",
        "statusPessoa": "Procurado",
        "idOrgaoJudiciario": 4321,
        "siglaTribunal": "TJSP",
        "sigilo": "Aberto",
        "dataValidade": "2030-01-01",
        "especiePrisao": "Prisão Preventiva",
        "evento": _event("Expedição de Mandado de Prisão"),
    }
    return item | fields


def _page(*items: Any, last: bool = True) -> dict[str, Any]:
    return {"content": list(items), "totalElements": len(items), "last": last}


def _recorded(status: str = "pending", **fields: Any) -> WarrantRecorded:
    base: dict[str, Any] = {
        **FIRST_SIGHT,
        "process_number": OTHER_PROCESS,
        "status": BnmpWarrantStatus(status),
        "changed_at": AT,
        "person_status": PersonStatus.WANTED,
        "species": WarrantSpecies.PREVENTIVE,
        "valid_until": date(2030, 1, 1),
        "cause": "Expedição de Mandado de Prisão",
        "bnmp_id": "BNMP-0000007",
    }
    return WarrantRecorded(**(base | fields))


def _unknown(what: str, label: str, number: str = BNMP_DIGITS, **fields: Any) -> Any:
    subject = masked_number(number) if len(number) in (24, 28) else BNMP_UNREADABLE
    base: dict[str, Any] = {
        "subject": subject,
        "number": number,
        "what": what,
        "label": label,
        "changed_at": AT,
        "seen_at": NOW,
    }
    return BnmpChangeUnrecognised(**(base | fields))


POLICE = Official(name="Delegada Exemplo", role="delegada de polícia")
COMPLIANCE = _event(
    "Cumprimento de Mandado de Prisão",
    ARRESTED,
    localEvento="Belo Horizonte/MG",
    responsavelNome="Delegada Exemplo",
    responsavelCargo="delegada de polícia",
)

# Every status the mapping knows, with the events that matter to it; then the labels it does not.
ITEMS = [
    pytest.param(_item(), [_recorded()], id="issued-in-bnmp-pending"),
    pytest.param(
        _item("Pendente", evento=None, statusPessoa=None, especiePrisao=None),
        [_recorded(cause=None, person_status=None, species=None)],
        id="pendente-bare",
    ),
    pytest.param(
        _item("Cumprido", evento=COMPLIANCE, statusPessoa="Preso"),
        [
            WarrantComplied(
                **FIRST_SIGHT, complied_at=ARRESTED, place="Belo Horizonte/MG", certified_by=POLICE
            )
        ],
        id="complied-by-the-police-arrest-time-is-the-reference",
    ),
    pytest.param(
        _item("CUMPRIDO", evento=None),
        [
            WarrantComplied(
                **FIRST_SIGHT,
                complied_at=AT,
                place="não informado",
                certified_by=Official(name="Polícia Civil", role="agente"),
            )
        ],
        id="complied-no-event",
    ),
    pytest.param(
        _item("Cumprido", evento=_event("Cumprimento Automático")),
        [
            WarrantComplied(
                **FIRST_SIGHT,
                complied_at=AT,
                place="não informado",
                certified_by=Official(name="Polícia Civil", role="agente"),
            )
        ],
        id="complied-with-another-arrest",
    ),
    pytest.param(
        _item("Revogado", evento=_event("Revogação Automática")),
        [WarrantExpired(**FIRST_SIGHT, expired_at=AT)],
        id="revoked-on-expiry",
    ),
    pytest.param(
        _item("Revogado", evento=None, dataValidade="2024-02-29"),
        [WarrantExpired(**FIRST_SIGHT, expired_at=AT)],
        id="revoked-no-event-validity-passed",
    ),
    pytest.param(
        _item("Revogado", evento=None),
        [_recorded("revoked", cause=None)],
        id="revoked-no-event-still-valid",
    ),
    pytest.param(
        _item("Revogado", evento=_event("Revogação por Contramandado"), dataValidade="2024-02-29"),
        [_recorded("revoked", cause="Revogação por Contramandado", valid_until=date(2024, 2, 29))],
        id="revoked-by-a-counter-warrant-after-its-validity",
    ),
    pytest.param(
        _item("Revogado", evento=_event("Revogação por Alvará de Soltura")),
        [_recorded("revoked", cause="Revogação por Alvará de Soltura")],
        id="revoked-by-a-release-order",
    ),
    pytest.param(
        _item(evento=_event("Anulação de Certidão de Cumprimento")),
        [_recorded(cause="Anulação de Certidão de Cumprimento")],
        id="pending-again-certificate-annulled",
    ),
    pytest.param(
        _item(evento=_event("Fuga"), statusPessoa="Foragido"),
        [_recorded(cause="Fuga", person_status=PersonStatus.FUGITIVE)],
        id="pending-person-escaped",
    ),
    pytest.param(_item("Em Elaboração"), [], id="draft-not-in-force"),
    pytest.param(_item("Aguardando Assinatura"), [], id="awaiting-signature"),
    pytest.param(_item("Excluído"), [], id="deleted-draft"),
    pytest.param(_item(descricaoTipoPeca="Alvará de Soltura"), [], id="not-a-warrant"),
    pytest.param(
        _item(numeroPeca=WARRANT_DIGITS, numeroProcesso=PROCESS_DIGITS, idOrgaoJudiciario=COURT),
        [
            _recorded(
                warrant_number=WARRANT,
                process_number="0001234-05.2023.8.13.0024",
                issuing_court=COURT,
            )
        ],
        id="the-hubs-own-warrant-24-digits-its-court",
    ),
    pytest.param(
        _item(sigilo="Sigiloso"), [_recorded(secrecy=Secrecy.SECRET)], id="secret-warrant"
    ),
    pytest.param(
        _item(sigilo=None, sigiloso=True), [_recorded(secrecy=Secrecy.SECRET)], id="sigiloso-flag"
    ),
    pytest.param(
        _item(numeroCpf=None, numeroIndividuo=RJI),
        [_recorded(person=Person(rji=RJI, name="Fulano de Tal", birth_date=date(1990, 5, 17)))],
        id="person-by-rji",
    ),
    # What the hub does not know: kept for an operator, never applied, never ignored.
    pytest.param(
        _item("Suspenso"), [_unknown("piece_status", "Suspenso")], id="unknown-status-not-applied"
    ),
    pytest.param(
        _item("EXPIRADO"), [_unknown("piece_status", "EXPIRADO")], id="the-old-invented-status"
    ),
    pytest.param(
        _item(descricaoTipoPeca="Mandado de Prisão Especial"),
        [_unknown("piece_type", "Mandado de Prisão Especial")],
        id="unknown-piece-type",
    ),
    pytest.param(
        _item("Cumprido", evento=_event("Recaptura Eletrônica")),
        [
            WarrantComplied(
                **FIRST_SIGHT,
                complied_at=AT,
                place="não informado",
                certified_by=Official(name="Polícia Civil", role="agente"),
            ),
            _unknown("event_type", "Recaptura Eletrônica"),
        ],
        id="unknown-event-type-status-still-applies",
    ),
    pytest.param(
        _item(statusPessoa="Em Trânsito"),
        [_recorded(person_status=None), _unknown("person_status", "Em Trânsito")],
        id="unknown-person-status-status-still-applies",
    ),
]


@pytest.mark.parametrize(("item", "payloads"), ITEMS)
def test_read_page_items(item: dict[str, Any], payloads: list[AnyPayload]) -> None:
    """What each light-filter item means to the hub, by status, event type and person status."""
    page = read_page(_page(item), NOW)
    assert [list(r.payloads) for r in page.readings] == [payloads]
    assert page.readings[0].changed_at == AT


POISON = [
    pytest.param(
        _item(numeroPeca=BNMP_DIGITS[:-1]),
        _unknown(
            "item",
            "BNMP document number has 27 characters, expected 24 or 28 digits",
            number=BNMP_DIGITS[:-1],
        ),
        id="27-digit-number",
    ),
    pytest.param(
        _item(numeroPeca="000123406202381300240001"),
        _unknown(
            "item",
            "malformed item: warrant_number",  # the field, never its value
            number="000123406202381300240001",
            subject=BNMP_UNREADABLE,
        ),
        id="wrong-check-digits",
    ),
    pytest.param(
        _item(dataAlteracao="2024-03-01T10:00:00"),
        _unknown("item", "malformed item: dataAlteracao", changed_at=None),
        id="naive-timestamp",
    ),
    pytest.param(
        {k: v for k, v in _item().items() if k != "descricaoStatus"},
        _unknown("item", "malformed item: descricaoStatus"),
        id="no-status",
    ),
    pytest.param(
        _item(numeroCpf="11111111111"),
        _unknown("item", "malformed item: cpf"),  # the field, never the CPF
        id="impossible-cpf",
    ),
    pytest.param(
        _item(sigilo="Reservado"),
        _unknown("item", "unknown sigilo 'Reservado'"),
        id="unknown-secrecy-never-guessed",
    ),
    pytest.param(
        "CUMPRIDO",
        _unknown(
            "item", "malformed item: item", number="", subject=BNMP_UNREADABLE, changed_at=None
        ),
        id="not-an-object",
    ),
]


@pytest.mark.parametrize(("poison", "parked"), POISON)
def test_a_poison_item_is_parked_and_the_rest_of_the_page_flows(
    poison: Any, parked: BnmpChangeUnrecognised
) -> None:
    """An item the hub cannot read becomes one record for an operator; the items around it are
    read as if it were not there, so the cursor moves on and no later change is held up."""
    later = _item(
        "Cumprido", evento=COMPLIANCE, dataAlteracao=(AT + timedelta(hours=1)).isoformat()
    )
    page = read_page(_page(_item(), poison, later), NOW)
    first, bad, last = page.readings
    assert list(first.payloads) == [_recorded()]
    assert [type(p) for p in last.payloads] == [WarrantComplied]
    assert last.changed_at == AT + timedelta(hours=1)
    assert len(bad.payloads) == 1
    got = bad.payloads[0]
    assert isinstance(got, BnmpChangeUnrecognised)
    assert got == parked


def test_an_item_read_twice_has_the_same_key_and_another_a_different_one() -> None:
    """The poller skips items it already published at its cursor's time by their key."""
    a, b, c = read_page(_page(_item(), _item(), _item("Cumprido")), NOW).readings
    assert a.key == b.key != c.key


MALFORMED_PAGES = [
    pytest.param(None, id="null"),
    pytest.param([_item()], id="a-bare-list"),
    pytest.param({"totalElements": 0, "last": True}, id="no-content"),
    pytest.param({"content": {"numeroPeca": BNMP_DIGITS}}, id="content-an-object"),
    pytest.param("<html>proxy error</html>", id="html"),
]


@pytest.mark.parametrize("page", MALFORMED_PAGES)
def test_read_page_refuses_what_is_not_a_page(page: Any) -> None:
    """A page without a content list is not BNMP's answer: nothing of it is read."""
    with pytest.raises(ContractError, match="without a content list") as caught:
        read_page(page, NOW)
    assert caught.value.reason == "malformed_answer"


@pytest.mark.parametrize(
    ("page", "last"),
    [
        pytest.param(_page(), True, id="empty"),
        pytest.param(_page(_item(), last=False), False, id="not-last"),
        pytest.param({"content": []}, True, id="no-last-means-last"),
    ],
)
def test_read_page_says_whether_it_is_the_last(page: Any, last: bool) -> None:
    """Spring's `last`; a page without it is the last (no endless paging)."""
    assert read_page(page, NOW).last is last


def test_the_simulator_serves_what_the_mapping_reads() -> None:
    """The BNMP simulator's items are read as the fixtures above are."""
    sim = BnmpSimulator(clock=lambda: AT)
    piece = sim.issue(
        Issue(
            numeroProcesso=OTHER_DIGITS,
            numeroCpf=CPF,
            nomePessoa="Fulano de Tal",
            dataValidade=date(2030, 1, 1),
        )
    )
    (reading,) = read_page(_page(sim.item(piece)), NOW).readings
    (recorded,) = reading.payloads
    assert isinstance(recorded, WarrantRecorded)
    assert (recorded.status, recorded.person_status, recorded.valid_until) == (
        BnmpWarrantStatus.PENDING,
        PersonStatus.WANTED,
        date(2030, 1, 1),
    )
    sim.comply(piece.numeroPeca, ARRESTED)
    (reading,) = read_page(_page(sim.item(piece)), NOW).readings
    (complied,) = reading.payloads
    assert isinstance(complied, WarrantComplied)
    assert complied.complied_at == ARRESTED
    sim.expire(piece.numeroPeca)
    (reading,) = read_page(_page(sim.item(piece)), NOW).readings
    assert [type(p) for p in reading.payloads] == [WarrantExpired]
