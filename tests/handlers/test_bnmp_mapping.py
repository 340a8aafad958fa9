"""BNMP's mapping as tables: the peça each delivery registers, BNMP's answers, its change pages.

The answers are shaped as the BNMP simulator (and, where public, BNMP 3.0) sends them: a registered
peça `{id, numeroPeca, tipoPeca, status}`, and Spring pages `{content, totalElements, last}` of
`light-filter` changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.bnmp.mapping import (
    change_events,
    digits,
    document_of,
    masked_number,
    registered,
    to_peca,
)
from contracts import (
    BnmpDocumentType,
    BnmpRegistrationCompleted,
    ContractError,
    Secrecy,
    WarrantComplied,
    WarrantExpired,
)
from contracts.envelope import AnyPayload
from contracts.people import Official
from sandbox.simulators.bnmp import Change
from tests.factories import (
    BRT,
    COUNTER_WARRANT,
    COURT,
    CPF,
    ORDER,
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
SENT = "2024-03-01T13:00:00-03:00"  # the envelope's occurred_at (make_envelope: T0 + 3 h)

# The default documents' numbers, unmasked by hand (BNMP stores digits only).
PROCESS_DIGITS = "00012340520238130024"
ORDER_DIGITS = PROCESS_DIGITS + "0002"
WARRANT_DIGITS = PROCESS_DIGITS + "0001"
COUNTER_DIGITS = PROCESS_DIGITS + "0003"

PESSOA = {
    "numeroCpf": CPF,
    "numeroIndividuo": None,
    "nome": "Fulano de Tal",
    "nomeMae": "Beltrana de Tal",
    "dataNascimento": "1990-05-17",
}


def _peca(number: str, doc_type: BnmpDocumentType, **fields: Any) -> dict[str, Any]:
    """The fields every peça has, then `fields`."""
    base = {
        "numeroPeca": number,
        "tipoPeca": doc_type.value,
        "sigilo": Secrecy.PUBLIC.value,
        "dataExpedicao": SENT,
    }
    return base | fields


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("number", "unmasked"),
    [
        (ORDER, ORDER_DIGITS),
        ("0001234-05.2023.8.13.0024", PROCESS_DIGITS),
        (ORDER_DIGITS, ORDER_DIGITS),  # already digits: unchanged
        ("", ""),
    ],
)
def test_digits_unmasks(number: str, unmasked: str) -> None:
    """A masked CNJ or document number loses every non-digit."""
    assert digits(number) == unmasked


def test_masked_number_puts_the_mask_back() -> None:
    """24 digits come back as NNNNNNN-DD.AAAA.J.TR.OOOO.SSSS."""
    assert masked_number(ORDER_DIGITS) == ORDER


@pytest.mark.parametrize(
    ("unmasked", "fragment"),
    [
        (PROCESS_DIGITS, "has 20 characters"),  # a process number, no sequence
        (ORDER_DIGITS + "00", "has 26 characters"),
        (ORDER_DIGITS + "1234", "has 28 characters"),
        (ORDER, "has 30 characters"),  # still masked
        ("0001234x0520238130240002", "has 24 characters"),  # 24 characters, not all digits
        ("", "has 0 characters"),
    ],
)
def test_masked_number_refuses_other_shapes(unmasked: str, fragment: str) -> None:
    """Anything but 24 digits is a malformed answer from BNMP."""
    with pytest.raises(ContractError, match=fragment) as caught:
        masked_number(unmasked)
    assert caught.value.reason == "malformed_answer"


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

PECAS = [
    pytest.param(
        make_release_order(),
        _peca(
            ORDER_DIGITS,
            BnmpDocumentType.RELEASE_ORDER,
            numeroProcesso=PROCESS_DIGITS,
            pessoa=PESSOA,
            orgaoJudiciario=COURT,
            pecasReferenciadas=[WARRANT_DIGITS],
            contingencia=False,
        ),
        id="release-order",
    ),
    pytest.param(
        # The flagrante flag and arrest date that stand for the warrant (S002) are not in the peça.
        make_release_order(covered_warrants=(), flagrante=True, arrest_date=date(2024, 2, 29)),
        _peca(
            ORDER_DIGITS,
            BnmpDocumentType.RELEASE_ORDER,
            numeroProcesso=PROCESS_DIGITS,
            pessoa=PESSOA,
            orgaoJudiciario=COURT,
            pecasReferenciadas=[],
            contingencia=False,
        ),
        id="release-order-on-flagrante",
    ),
    pytest.param(
        make_release_order(
            covered_warrants=(WARRANT, f"{WARRANT[:-4]}0004"),
            contingency=True,
            outage_started_at=T0 - timedelta(hours=2),
            person={"rji": RJI, "name": "Fulano de Tal"},
        ),
        _peca(
            ORDER_DIGITS,
            BnmpDocumentType.RELEASE_ORDER,
            numeroProcesso=PROCESS_DIGITS,
            pessoa={
                "numeroCpf": None,
                "numeroIndividuo": RJI,
                "nome": "Fulano de Tal",
                "nomeMae": None,
                "dataNascimento": None,
            },
            orgaoJudiciario=COURT,
            pecasReferenciadas=[WARRANT_DIGITS, PROCESS_DIGITS + "0004"],
            contingencia=True,
        ),
        id="release-order-contingency-rji-two-warrants",
    ),
    pytest.param(
        make_compliance(),
        _peca(
            ORDER_DIGITS,
            BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE,
            liberado=True,
            dataCumprimento="2024-03-01T12:10:00-03:00",
            unidade=UNIT,
        ),
        id="certificate-released",
    ),
    pytest.param(
        make_compliance(released=False),
        _peca(
            ORDER_DIGITS,
            BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE,
            liberado=False,
            dataCumprimento="2024-03-01T12:10:00-03:00",
            unidade=UNIT,
        ),
        id="certificate-kept",
    ),
    pytest.param(
        make_warrant(),
        _peca(
            WARRANT_DIGITS,
            BnmpDocumentType.WARRANT,
            numeroProcesso=PROCESS_DIGITS,
            pessoa=PESSOA,
            orgaoJudiciario=COURT,
        ),
        id="warrant",
    ),
    pytest.param(
        make_warrant(secrecy=Secrecy.SECRET),
        _peca(
            WARRANT_DIGITS,
            BnmpDocumentType.WARRANT,
            numeroProcesso=PROCESS_DIGITS,
            pessoa=PESSOA,
            orgaoJudiciario=COURT,
        )
        | {"sigilo": Secrecy.SECRET.value},
        id="secret-warrant",
    ),
    pytest.param(
        make_revocation(),
        _peca(
            COUNTER_DIGITS, BnmpDocumentType.COUNTER_WARRANT, pecasReferenciadas=[WARRANT_DIGITS]
        ),
        id="counter-warrant",
    ),
]


@pytest.mark.parametrize(("payload", "peca"), PECAS)
def test_to_peca(payload: AnyPayload, peca: dict[str, Any]) -> None:
    """The whole peça, field by field: nothing more, nothing less."""
    assert to_peca(make_envelope(payload)) == peca


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
        _answer(COUNTER_DIGITS, BnmpDocumentType.COUNTER_WARRANT) | {"extra": {"ignored": 1}},
        (COUNTER_WARRANT, BnmpDocumentType.COUNTER_WARRANT, "BNMP-0000001"),
        id="counter-warrant-extra-fields-ignored",
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


# ---------------------------------------------------------------- change_events

AT = datetime(2024, 3, 1, 10, 0, tzinfo=BRT)


def _change(status: str, at: datetime = AT, number: str = WARRANT_DIGITS, **extra: Any) -> Any:
    """One light-filter item, as BNMP (the simulator's `Change`) serialises it."""
    return Change(numeroPeca=number, status=status, dataAlteracao=at, **extra).model_dump(
        mode="json"
    )


def _page(*items: Any, last: bool = True) -> dict[str, Any]:
    return {"content": list(items), "totalElements": len(items), "last": last}


POLICE = Official(name="Polícia Civil", role="agente")
COMPLIED_BY_DEFAULT = WarrantComplied(
    warrant_number=WARRANT, complied_at=AT, place="não informado", certified_by=POLICE
)

CHANGES = [
    pytest.param(_page(), ([], True, None), id="empty-page"),
    pytest.param(
        _page(
            _change(
                "CUMPRIDO",
                localCumprimento="Belo Horizonte",
                responsavelNome="Delegada Exemplo",
                responsavelCargo="delegada de polícia",
            )
        ),
        (
            [
                WarrantComplied(
                    warrant_number=WARRANT,
                    complied_at=AT,
                    place="Belo Horizonte",
                    certified_by=Official(name="Delegada Exemplo", role="delegada de polícia"),
                )
            ],
            True,
            AT,
        ),
        id="complied-with-place-and-officer",
    ),
    pytest.param(_page(_change("CUMPRIDO")), ([COMPLIED_BY_DEFAULT], True, AT), id="complied-bare"),
    pytest.param(
        _page(_change("CUMPRIDO", localCumprimento="")),
        ([COMPLIED_BY_DEFAULT], True, AT),
        id="complied-empty-place",
    ),
    pytest.param(
        _page(_change("EXPIRADO")),
        ([WarrantExpired(warrant_number=WARRANT, expired_at=AT)], True, AT),
        id="expired",
    ),
    pytest.param(
        _page(_change("Pendente", AT + timedelta(hours=1)), last=False),
        ([], False, AT + timedelta(hours=1)),  # not the hub's business, but the cursor moves on
        id="other-status-skipped-not-last",
    ),
    pytest.param(
        _page(
            _change("EXPIRADO", AT + timedelta(minutes=5), number=COUNTER_DIGITS),
            _change("Ativo", AT + timedelta(minutes=9)),
            _change("CUMPRIDO", AT),
        ),
        (
            [
                WarrantExpired(
                    warrant_number=COUNTER_WARRANT, expired_at=AT + timedelta(minutes=5)
                ),
                COMPLIED_BY_DEFAULT,
            ],
            True,
            AT + timedelta(minutes=9),
        ),
        id="events-in-page-order-latest-of-all",
    ),
    pytest.param(
        {"content": [_change("EXPIRADO")]},
        ([WarrantExpired(warrant_number=WARRANT, expired_at=AT)], True, AT),
        id="no-last-means-last",
    ),
]


@pytest.mark.parametrize(("page", "expected"), CHANGES)
def test_change_events(page: Any, expected: tuple[list[AnyPayload], bool, datetime | None]) -> None:
    """A page's hub events (complied, expired), whether it is the last, and its latest change."""
    assert change_events(page) == expected


MALFORMED_PAGES = [
    pytest.param(None, "without a content list", id="null"),
    pytest.param([_change("CUMPRIDO")], "without a content list", id="a-bare-list"),
    pytest.param({"totalElements": 0, "last": True}, "without a content list", id="no-content"),
    pytest.param({"content": {"numeroPeca": WARRANT_DIGITS}}, "without a content list", id="obj"),
    pytest.param(_page({"numeroPeca": WARRANT_DIGITS}), "item is malformed", id="item-no-status"),
    pytest.param(
        _page(_change("CUMPRIDO") | {"dataAlteracao": "2024-03-01T10:00:00"}),
        "item is malformed",
        id="naive-timestamp",
    ),
    pytest.param(_page("CUMPRIDO"), "item is malformed", id="item-not-an-object"),
    pytest.param(
        _page(_change("CUMPRIDO", number=PROCESS_DIGITS)), "expected 24 digits", id="short-number"
    ),
    pytest.param(
        _page(_change("CUMPRIDO", number="000123406202381300240001")),
        "item is malformed",
        id="wrong-check-digits",
    ),
    pytest.param(
        _page(_change("CUMPRIDO", responsavelNome="JoÃ£o")), "item is malformed", id="mojibake"
    ),
]


@pytest.mark.parametrize(("page", "fragment"), MALFORMED_PAGES)
def test_change_events_refuses_malformed_pages(page: Any, fragment: str) -> None:
    """A page without a content list, or with an item the hub cannot read, is malformed."""
    with pytest.raises(ContractError, match=fragment) as caught:
        change_events(page)
    assert caught.value.reason == "malformed_answer"
