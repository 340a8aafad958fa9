"""Between the hub's contracts and SETARIM's JSON (pure): validation requests and certificates,
and the warrant records SETARIM keeps so that it can find impediments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from contracts import (
    BnmpWarrantStatus,
    ContractError,
    Envelope,
    ImpedimentLifted,
    ReleaseOrderIssued,
    ValidationCompleted,
    WarrantComplied,
    WarrantExpired,
    WarrantIssued,
    WarrantRecorded,
    WarrantRevoked,
    warrant_process,
)
from contracts.setarim import Impediment

__all__ = ["certificate_of", "lifted_record", "to_validation_request", "to_warrant_record"]


def to_validation_request(order: ReleaseOrderIssued) -> dict[str, Any]:
    """Ask SETARIM whether anything else keeps the person of `order` detained."""
    return {
        "numeroAlvara": order.order_number,
        "numeroProcesso": order.process_number,
        "pessoa": {"cpf": order.person.cpf, "rji": order.person.rji},
        "mandadosAbrangidos": list(order.covered_warrants),
        "unidade": order.custodial_unit,
    }


_SITUATION = {
    WarrantIssued: "pendente",
    WarrantRevoked: "revogado",
    WarrantComplied: "cumprido",
    WarrantExpired: "expirado",
}


_RECORDED = {BnmpWarrantStatus.PENDING: "pendente", BnmpWarrantStatus.REVOKED: "revogado"}
_WarrantNews = WarrantIssued | WarrantRevoked | WarrantComplied | WarrantExpired | WarrantRecorded


def _situation(p: _WarrantNews) -> str:
    return _RECORDED[p.status] if isinstance(p, WarrantRecorded) else _SITUATION[type(p)]


def to_warrant_record(env: Envelope) -> dict[str, Any]:
    """What SETARIM records of a warrant event (its own archive of open orders). A warrant BNMP
    reports that the hub never carried comes with its person, court and process, so that SETARIM
    finds it as an impediment like the warrants the hub carried (BNMP is the register: S004
    item 10)."""
    p = env.payload
    if not isinstance(p, _WarrantNews):
        raise ContractError(f"{env.kind} is not sent to SETARIM", reason="not_for_setarim")
    record: dict[str, Any] = {"numeroMandado": p.warrant_number, "situacao": _situation(p)}
    if isinstance(p, WarrantIssued):
        record |= {
            "numeroProcesso": p.process_number,
            "orgao": p.issuing_court,
            "pessoa": {"cpf": p.person.cpf, "rji": p.person.rji},
            "descricao": f"mandado de prisão ({p.species.value})",
        }
    elif not isinstance(p, WarrantRevoked) and p.person is not None:
        record |= {
            "numeroProcesso": warrant_process(p.warrant_number),
            "orgao": p.issuing_court or "bnmp",
            "pessoa": {"cpf": p.person.cpf, "rji": p.person.rji},
            "descricao": "mandado de prisão (BNMP)",
        }
    return record


def lifted_record(p: ImpedimentLifted) -> dict[str, Any]:
    """The warrant whose impediment was lifted, as SETARIM records it before validating the order
    again (the news of the warrant itself may reach SETARIM after the new validation)."""
    return {"numeroMandado": p.warrant_number, "situacao": _SITUATION_OUT[p.warrant_state]}


_SITUATION_OUT = {"revoked": "revogado", "expired": "expirado"}


class _Impedimento(BaseModel):
    model_config = ConfigDict(extra="ignore")
    orgao: str
    processo: str
    mandado: str
    descricao: str


class _Certidao(BaseModel):
    model_config = ConfigDict(extra="ignore")
    certidao: str = Field(min_length=1)
    dataValidacao: AwareDatetime  # noqa: N815 - SETARIM's field name
    impedimentos: list[_Impedimento]


def certificate_of(order_number: str, body: Any, received: datetime) -> ValidationCompleted:
    """The validation certificate in SETARIM's answer; anything else is a `ContractError`."""
    try:
        c = _Certidao.model_validate(body)
        return ValidationCompleted(
            order_number=order_number,
            certificate_number=c.certidao,
            validated_at=c.dataValidacao,
            impediments=tuple(
                Impediment(
                    issuing_court=i.orgao,
                    process_number=i.processo,
                    warrant_number=i.mandado,
                    description=i.descricao,
                )
                for i in c.impedimentos
            ),
        )
    except ValidationError:
        raise ContractError(
            "SETARIM answered a validation without a valid certidao/dataValidacao/impedimentos",
            reason="malformed_answer",
        ) from None
