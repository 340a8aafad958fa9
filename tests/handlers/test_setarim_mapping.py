"""SETARIM's mapping as tables: validation requests, warrant records, and its certificates.

SETARIM's answers are shaped as the SETARIM simulator sends them: `{certidao, dataValidacao,
impedimentos: [{orgao, processo, mandado, descricao}]}`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.setarim.mapping import (
    certificate_of,
    lifted_record,
    to_validation_request,
    to_warrant_record,
)
from contracts import (
    ContractError,
    Impediment,
    ReleaseOrderIssued,
    ValidationCompleted,
    WarrantSpecies,
    format_cnj,
)
from contracts.envelope import AnyPayload
from tests.factories import (
    BRT,
    COURT,
    CPF,
    ORDER,
    OTHER_PROCESS,
    OTHER_WARRANT,
    PROCESS,
    RJI,
    UNIT,
    WARRANT,
    make_compliance,
    make_envelope,
    make_lifted,
    make_receipt,
    make_registration,
    make_release_order,
    make_revocation,
    make_validation,
    make_warrant,
    make_warrant_complied,
    make_warrant_expired,
    make_warrant_recorded,
)

RECEIVED = datetime(2024, 3, 1, 14, 0, tzinfo=UTC)  # when the hub read the answer

# ---------------------------------------------------------------- to_validation_request

REQUESTS = [
    pytest.param(
        make_release_order(),
        {
            "numeroAlvara": ORDER,
            "numeroProcesso": PROCESS,
            "pessoa": {"cpf": CPF, "rji": None},
            "mandadosAbrangidos": [WARRANT],
            "unidade": UNIT,
        },
        id="one-covered-warrant",
    ),
    pytest.param(
        make_release_order(
            covered_warrants=(), flagrante=True, arrest_date=date(2024, 2, 29), custodial_unit=None
        ),
        {
            "numeroAlvara": ORDER,
            "numeroProcesso": PROCESS,
            "pessoa": {"cpf": CPF, "rji": None},
            "mandadosAbrangidos": [],  # on flagrante every open warrant is an impediment
            "unidade": None,
        },
        id="flagrante-no-unit",
    ),
    pytest.param(
        make_release_order(
            covered_warrants=(WARRANT, f"{PROCESS}.0004"),
            person={"rji": RJI, "name": "Fulano de Tal"},
            custodial_unit="mg.ceresp-bh",
        ),
        {
            "numeroAlvara": ORDER,
            "numeroProcesso": PROCESS,
            "pessoa": {"cpf": None, "rji": RJI},
            "mandadosAbrangidos": [WARRANT, f"{PROCESS}.0004"],
            "unidade": "mg.ceresp-bh",
        },
        id="rji-two-warrants",
    ),
]


@pytest.mark.parametrize(("order", "request_"), REQUESTS)
def test_to_validation_request(order: ReleaseOrderIssued, request_: dict[str, Any]) -> None:
    """SETARIM is asked about the person (CPF, RJI) and told which warrants the order covers."""
    assert to_validation_request(order) == request_


# ---------------------------------------------------------------- to_warrant_record

RECORDS = [
    pytest.param(
        make_warrant(),
        {
            "numeroMandado": WARRANT,
            "situacao": "pendente",
            "numeroProcesso": PROCESS,
            "orgao": COURT,
            "pessoa": {"cpf": CPF, "rji": None},
            "descricao": "mandado de prisão (preventive)",
        },
        id="issued",
    ),
    pytest.param(
        make_warrant(
            species=WarrantSpecies.TEMPORARY, term_days=5, person={"rji": RJI, "name": "Fulano"}
        ),
        {
            "numeroMandado": WARRANT,
            "situacao": "pendente",
            "numeroProcesso": PROCESS,
            "orgao": COURT,
            "pessoa": {"cpf": None, "rji": RJI},
            "descricao": "mandado de prisão (temporary)",
        },
        id="issued-temporary-rji",
    ),
    pytest.param(
        make_revocation(),  # the revoked warrant's record, not the counter-warrant's
        {"numeroMandado": WARRANT, "situacao": "revogado"},
        id="revoked",
    ),
    pytest.param(
        make_warrant_complied(), {"numeroMandado": WARRANT, "situacao": "cumprido"}, id="complied"
    ),
    pytest.param(
        make_warrant_expired(), {"numeroMandado": WARRANT, "situacao": "expirado"}, id="expired"
    ),
    # What BNMP reports of a warrant the hub never carried comes with whose it is (S004 item 10).
    pytest.param(
        make_warrant_recorded(),
        {
            "numeroMandado": OTHER_WARRANT,
            "situacao": "pendente",
            "numeroProcesso": OTHER_PROCESS,
            "orgao": "tjsp.orgao-4321",
            "pessoa": {"cpf": CPF, "rji": None},
            "descricao": "mandado de prisão (BNMP)",
        },
        id="recorded-in-bnmp",
    ),
    pytest.param(
        make_warrant_recorded(status="revoked", issuing_court=None),
        {
            "numeroMandado": OTHER_WARRANT,
            "situacao": "revogado",
            "numeroProcesso": OTHER_PROCESS,
            "orgao": "bnmp",
            "pessoa": {"cpf": CPF, "rji": None},
            "descricao": "mandado de prisão (BNMP)",
        },
        id="revoked-in-bnmp-court-unknown",
    ),
    pytest.param(
        make_warrant_complied(person={"rji": RJI, "name": "Fulano"}),
        {
            "numeroMandado": WARRANT,
            "situacao": "cumprido",
            "numeroProcesso": PROCESS,
            "orgao": "bnmp",
            "pessoa": {"cpf": None, "rji": RJI},
            "descricao": "mandado de prisão (BNMP)",
        },
        id="complied-by-the-police-naming-the-person",
    ),
]


@pytest.mark.parametrize(("payload", "record"), RECORDS)
def test_to_warrant_record(payload: AnyPayload, record: dict[str, Any]) -> None:
    """Each warrant event is the warrant's new situation; an issued one also says whose it is."""
    assert to_warrant_record(make_envelope(payload)) == record


@pytest.mark.parametrize(
    "payload",
    [
        make_release_order(),
        make_receipt(),
        make_compliance(),
        make_validation(),
        make_registration(),
    ],
    ids=lambda p: p.kind,
)
def test_to_warrant_record_refuses_other_documents(payload: AnyPayload) -> None:
    """Only warrant events are recorded in SETARIM's archive."""
    with pytest.raises(ContractError, match=f"{payload.kind} is not sent to SETARIM") as caught:
        to_warrant_record(make_envelope(payload))
    assert caught.value.reason == "not_for_setarim"


@pytest.mark.parametrize(("state", "situacao"), [("revoked", "revogado"), ("expired", "expirado")])
def test_lifted_record(state: str, situacao: str) -> None:
    """Before validating an order again, SETARIM records the warrant that left force."""
    lifted = make_lifted(warrant_state=state)
    assert lifted_record(lifted) == {"numeroMandado": OTHER_WARRANT, "situacao": situacao}


# ---------------------------------------------------------------- certificate_of

VALIDATED = datetime(2024, 3, 1, 10, 40, tzinfo=BRT)
IMPEDIMENT = {
    "orgao": "tjmg.vara-criminal-contagem",
    "processo": OTHER_PROCESS,
    "mandado": OTHER_WARRANT,
    "descricao": "mandado de prisão preventiva pendente",
}
SECOND_PROCESS = format_cnj(1, 2024, 8, 13, 79)  # a third process, with its own warrant


def _answer(*impedimentos: dict[str, str], **fields: Any) -> dict[str, Any]:
    """SETARIM's certificate for the default order, validated at VALIDATED."""
    body = {
        "certidao": "CV-000001-1",
        "dataValidacao": VALIDATED.isoformat(),
        "impedimentos": list(impedimentos),
    }
    return body | fields


CERTIFICATES = [
    pytest.param(
        _answer(),
        ValidationCompleted(
            order_number=ORDER, certificate_number="CV-000001-1", validated_at=VALIDATED
        ),
        id="cleared",
    ),
    pytest.param(
        _answer(IMPEDIMENT),
        ValidationCompleted(
            order_number=ORDER,
            certificate_number="CV-000001-1",
            validated_at=VALIDATED,
            impediments=(
                Impediment(
                    issuing_court="tjmg.vara-criminal-contagem",
                    process_number=OTHER_PROCESS,
                    warrant_number=OTHER_WARRANT,
                    description="mandado de prisão preventiva pendente",
                ),
            ),
        ),
        id="one-impediment",
    ),
    pytest.param(
        _answer(
            IMPEDIMENT,
            {
                "orgao": "tjmg.vara-criminal-betim",
                "processo": SECOND_PROCESS,
                "mandado": f"{SECOND_PROCESS}.0002",
                "descricao": "mandado em aberto",
                "extra": "ignored",
            },
            protocolo="ignored too",
        ),
        ValidationCompleted(
            order_number=ORDER,
            certificate_number="CV-000001-1",
            validated_at=VALIDATED,
            impediments=(
                Impediment(
                    issuing_court="tjmg.vara-criminal-contagem",
                    process_number=OTHER_PROCESS,
                    warrant_number=OTHER_WARRANT,
                    description="mandado de prisão preventiva pendente",
                ),
                Impediment(
                    issuing_court="tjmg.vara-criminal-betim",
                    process_number=SECOND_PROCESS,
                    warrant_number=f"{SECOND_PROCESS}.0002",
                    description="mandado em aberto",
                ),
            ),
        ),
        id="two-impediments-in-order-extra-fields-ignored",
    ),
]


@pytest.mark.parametrize(("body", "certificate"), CERTIFICATES)
def test_certificate_of(body: Any, certificate: ValidationCompleted) -> None:
    """SETARIM's certificate, its time of validation and its impediments, for the order asked."""
    assert certificate_of(ORDER, body, RECEIVED) == certificate


def test_certificate_keeps_setarim_time_not_the_time_received() -> None:
    """The certificate is dated by SETARIM (`dataValidacao`), whatever the hub's clock says."""
    later = RECEIVED + timedelta(days=3)
    assert certificate_of(ORDER, _answer(), later).validated_at == VALIDATED


MALFORMED = [
    pytest.param(None, id="null"),
    pytest.param([], id="a-list"),
    pytest.param("ok", id="a-string"),
    pytest.param({}, id="empty-object"),
    pytest.param(_answer() | {"certidao": ""}, id="empty-certidao"),
    pytest.param(_answer() | {"certidao": "CV 1"}, id="certidao-not-an-id"),
    pytest.param({k: v for k, v in _answer().items() if k != "certidao"}, id="no-certidao"),
    pytest.param({k: v for k, v in _answer().items() if k != "dataValidacao"}, id="no-date"),
    pytest.param(_answer() | {"dataValidacao": "2024-03-01T10:40:00"}, id="naive-date"),
    pytest.param({k: v for k, v in _answer().items() if k != "impedimentos"}, id="no-impedimentos"),
    pytest.param(_answer() | {"impedimentos": None}, id="impedimentos-null"),
    pytest.param(_answer() | {"impedimentos": IMPEDIMENT}, id="impedimentos-not-a-list"),
    pytest.param(
        _answer({k: v for k, v in IMPEDIMENT.items() if k != "mandado"}), id="impediment-no-mandado"
    ),
    pytest.param(_answer(IMPEDIMENT | {"processo": PROCESS}), id="impediment-of-another-process"),
    pytest.param(_answer(IMPEDIMENT | {"mandado": "123"}), id="impediment-bad-number"),
    pytest.param(_answer(IMPEDIMENT | {"orgao": "Vara Criminal"}), id="impediment-bad-court"),
    pytest.param(_answer(IMPEDIMENT, IMPEDIMENT), id="same-impediment-twice"),
]


@pytest.mark.parametrize("body", MALFORMED)
def test_certificate_of_refuses_malformed_answers(body: Any) -> None:
    """Anything but a complete, valid certificate is a malformed answer (never a bare
    ValidationError, which would be parked as `unexpected:ValidationError`)."""
    with pytest.raises(ContractError, match="without a valid certidao") as caught:
        certificate_of(ORDER, body, RECEIVED)
    assert caught.value.reason == "malformed_answer"
