"""Valid contract objects with sane defaults, built from synthetic identifiers only.

Every CNJ number is computed with `format_cnj`; the CPF 123.456.789-09 is the usual synthetic
test CPF. No real person's data appears here. Override any field by keyword.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from connectors.court.signing import CourtSigner
from contracts import (
    BnmpChangeUnrecognised,
    BnmpDocumentType,
    BnmpRegistrationCompleted,
    BnmpRegistrationRejected,
    ComplianceCertified,
    DeadlineAlert,
    DeadlineKind,
    Envelope,
    Impediment,
    ImpedimentLifted,
    ImpedimentReferred,
    ReceiptAcknowledged,
    ReleaseMotive,
    ReleaseOrderIssued,
    Source,
    ValidationCompleted,
    WarrantComplied,
    WarrantExpired,
    WarrantIssued,
    WarrantRecorded,
    WarrantRevoked,
    WarrantSpecies,
    format_cnj,
)
from contracts.envelope import AnyPayload

BRT = timezone(timedelta(hours=-3), "BRT")
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=BRT)  # the order/warrant issue time used by default

PROCESS = format_cnj(1234, 2023, 8, 13, 24)  # 0001234-05.2023.8.13.0024
OTHER_PROCESS = format_cnj(5678, 2022, 8, 13, 24)  # 0005678-18.2022.8.13.0024
WARRANT = f"{PROCESS}.0001"
OTHER_WARRANT = f"{OTHER_PROCESS}.0001"
COUNTER_WARRANT = f"{PROCESS}.0003"
ORDER = f"{PROCESS}.0002"
CPF = "12345678909"  # synthetic: 123.456.789-09
RJI = "17000011479"
COURT = "tjmg.vep-bh"
# The court system that signs what the tests send as a court (its key speaks for TJMG's units)
COURT_SIGNER = CourtSigner.generate("test-court", "RUPE")
UNIT = "mg.presidio-bh-01"
MESSAGE_ID = UUID("00000000-0000-4000-8000-000000000001")

PERSON: dict[str, Any] = {
    "cpf": CPF,
    "name": "Fulano de Tal",
    "mother_name": "Beltrana de Tal",
    "birth_date": date(1990, 5, 17),
}
OFFICIAL: dict[str, Any] = {"name": "Sicrano Servidor", "role": "agente de segurança"}


def make_release_order(**overrides: Any) -> ReleaseOrderIssued:
    """Return a valid signed alvará covering one complied warrant."""
    fields: dict[str, Any] = {
        "order_number": ORDER,
        "process_number": PROCESS,
        "motive": ReleaseMotive.PROVISIONAL_RELEASE,
        "person": PERSON,
        "covered_warrants": (WARRANT,),
        "issuing_court": COURT,
        "judge": "Juíza Exemplo",
        "custodial_unit": UNIT,
        "issued_at": T0,
        "signed_at": T0 + timedelta(minutes=5),
    }
    return ReleaseOrderIssued.model_validate({**fields, **overrides})


def make_warrant(**overrides: Any) -> WarrantIssued:
    """Return a valid signed preventive-arrest warrant."""
    fields: dict[str, Any] = {
        "warrant_number": WARRANT,
        "process_number": PROCESS,
        "species": WarrantSpecies.PREVENTIVE,
        "reason": "conversão do flagrante em preventiva",
        "legal_ground": "CPP art. 312",
        "offence": "CP art. 157",
        "bail_amount": None,
        "valid_until": date(2036, 3, 1),
        "issued_at": T0 - timedelta(days=30),
        "signed_at": T0 - timedelta(days=30),
        "judge": "Juíza Exemplo",
        "issuing_court": COURT,
        "person": PERSON,
    }
    return WarrantIssued.model_validate({**fields, **overrides})


def make_revocation(**overrides: Any) -> WarrantRevoked:
    """Return a valid contramandado of the default warrant."""
    fields: dict[str, Any] = {
        "counter_warrant_number": COUNTER_WARRANT,
        "warrant_number": WARRANT,
        "reason": "revogação da preventiva",
        "issued_at": T0,
        "signed_at": T0,
        "issuing_court": COURT,
    }
    return WarrantRevoked.model_validate({**fields, **overrides})


def make_impediment(**overrides: Any) -> Impediment:
    """Return an impediment: another warrant in force from another process."""
    fields: dict[str, Any] = {
        "issuing_court": "tjmg.vara-criminal-contagem",
        "process_number": OTHER_PROCESS,
        "warrant_number": OTHER_WARRANT,
        "description": "mandado de prisão preventiva pendente",
    }
    return Impediment.model_validate({**fields, **overrides})


def make_validation(*, impeded: bool = False, **overrides: Any) -> ValidationCompleted:
    """Return a SETARIM certificate: cleared, or with one impediment when `impeded`."""
    fields: dict[str, Any] = {
        "order_number": ORDER,
        "certificate_number": "SETARIM-2024-000123",
        "validated_at": T0 + timedelta(minutes=40),
        "impediments": (make_impediment(),) if impeded else (),
    }
    return ValidationCompleted.model_validate({**fields, **overrides})


def make_receipt(**overrides: Any) -> ReceiptAcknowledged:
    """Return the custodial unit's receipt acknowledgement."""
    fields: dict[str, Any] = {
        "order_number": ORDER,
        "unit": UNIT,
        "received_at": T0 + timedelta(minutes=20),
        "received_by": OFFICIAL,
    }
    return ReceiptAcknowledged.model_validate({**fields, **overrides})


def make_compliance(*, released: bool = True, **overrides: Any) -> ComplianceCertified:
    """Return a compliance certificate: released, or kept with a reason."""
    fields: dict[str, Any] = {
        "order_number": ORDER,
        "unit": UNIT,
        "released": released,
        "released_at": T0 + timedelta(hours=2) if released else None,
        "not_released_reason": None if released else "preso por outro processo",
        "certified_at": T0 + timedelta(hours=2, minutes=10),
        "responsible": OFFICIAL,
        "director": "Diretor Exemplo",
        "addresses": ("Rua Exemplo, 100, Belo Horizonte/MG",) if released else (),
        "phones": ("+55 31 90000-0000",) if released else (),
    }
    return ComplianceCertified.model_validate({**fields, **overrides})


def make_registration(**overrides: Any) -> BnmpRegistrationCompleted:
    """Return BNMP's registration of the release order."""
    fields: dict[str, Any] = {
        "document_number": ORDER,
        "document_type": BnmpDocumentType.RELEASE_ORDER,
        "bnmp_id": "1234567",
        "registered_at": T0 + timedelta(minutes=1),
    }
    return BnmpRegistrationCompleted.model_validate({**fields, **overrides})


def make_rejection(**overrides: Any) -> BnmpRegistrationRejected:
    """Return BNMP's refusal to register the release order."""
    fields: dict[str, Any] = {
        "document_number": ORDER,
        "document_type": BnmpDocumentType.RELEASE_ORDER,
        "reason": "órgão sem permissão",
        "rejected_at": T0 + timedelta(minutes=1),
    }
    return BnmpRegistrationRejected.model_validate({**fields, **overrides})


def make_warrant_complied(**overrides: Any) -> WarrantComplied:
    """Return BNMP's certificate that the default warrant was complied with."""
    fields: dict[str, Any] = {
        "warrant_number": WARRANT,
        "complied_at": T0 - timedelta(days=10),
        "place": "Belo Horizonte/MG",
        "certified_by": OFFICIAL,
    }
    return WarrantComplied.model_validate({**fields, **overrides})


def make_warrant_expired(**overrides: Any) -> WarrantExpired:
    """Return BNMP's notice that the default warrant expired."""
    fields: dict[str, Any] = {"warrant_number": WARRANT, "expired_at": T0}
    return WarrantExpired.model_validate({**fields, **overrides})


def make_warrant_recorded(**overrides: Any) -> WarrantRecorded:
    """Return BNMP's record of a pending warrant (issued there, never through the hub)."""
    fields: dict[str, Any] = {
        "warrant_number": OTHER_WARRANT,
        "process_number": OTHER_PROCESS,
        "person": PERSON,
        "status": "pending",
        "changed_at": T0 - timedelta(days=2),
        "issuing_court": "tjsp.orgao-4321",
    }
    return WarrantRecorded.model_validate({**fields, **overrides})


def make_unrecognised(**overrides: Any) -> BnmpChangeUnrecognised:
    """Return a BNMP report the hub does not know: a status it has no meaning for."""
    fields: dict[str, Any] = {
        "subject": WARRANT,
        "number": WARRANT.replace("-", "").replace(".", ""),
        "what": "piece_status",
        "label": "Suspenso",
        "changed_at": T0,
        "seen_at": T0 + timedelta(minutes=1),
    }
    return BnmpChangeUnrecognised.model_validate({**fields, **overrides})


def make_lifted(**overrides: Any) -> ImpedimentLifted:
    """Return the hub's lift of the default impediment: revoked in BNMP, none left."""
    fields: dict[str, Any] = {
        "order_number": ORDER,
        "warrant_number": OTHER_WARRANT,
        "warrant_state": "revoked",
        "lifted_at": T0 + timedelta(hours=2),
        "order": make_release_order(),
    }
    return ImpedimentLifted.model_validate({**fields, **overrides})


def make_referral(**overrides: Any) -> ImpedimentReferred:
    """Return the hub's referral of one impediment, due 24 h later."""
    at = T0 + timedelta(hours=1)
    fields: dict[str, Any] = {
        "order_number": ORDER,
        "impediments": (make_impediment(),),
        "referred_at": at,
        "due_at": at + timedelta(hours=24),
    }
    return ImpedimentReferred.model_validate({**fields, **overrides})


def make_alert(**overrides: Any) -> DeadlineAlert:
    """Return a 90 % alert of the order's compliance deadline."""
    fields: dict[str, Any] = {
        "subject_id": ORDER,
        "deadline": DeadlineKind.COMPLIANCE,
        "threshold_pct": 90,
        "started_at": T0,
        "due_at": T0 + timedelta(hours=24),
        "raised_at": T0 + timedelta(hours=22),
    }
    return DeadlineAlert.model_validate({**fields, **overrides})


SOURCES: dict[str, Source] = {
    "court": Source(connector="court", system="RUPE", unit=COURT),
    "setarim": Source(connector="setarim", system="SETARIM", unit="mg.setarim"),
    "custodial_unit": Source(connector="custodial_unit", system="SIGPRI", unit=UNIT),
    "bnmp": Source(connector="bnmp", system="BNMP3"),
    "hub": Source(connector="hub", system="hub"),
}


def make_envelope(payload: AnyPayload, **overrides: Any) -> Envelope:
    """Wrap a payload in a valid envelope from the matching connector, at a fixed time."""
    env = Envelope.new(
        payload,
        source=SOURCES[payload.kind.split(".")[0]],
        occurred_at=T0 + timedelta(hours=3),
        message_id=MESSAGE_ID,
    )
    if not overrides:
        return env
    return Envelope.model_validate({**dict(env), **overrides})


ALL_FACTORIES: tuple[Callable[..., AnyPayload], ...] = (
    make_release_order,
    make_warrant,
    make_revocation,
    make_validation,
    make_receipt,
    make_compliance,
    make_registration,
    make_rejection,
    make_warrant_complied,
    make_warrant_expired,
    make_warrant_recorded,
    make_unrecognised,
    make_referral,
    make_lifted,
    make_alert,
)


def make_every_payload() -> list[AnyPayload]:
    """Return one valid payload of every kind, plus the impeded and not-released variants."""
    payloads: list[AnyPayload] = [factory() for factory in ALL_FACTORIES]
    payloads += [make_validation(impeded=True), make_compliance(released=False)]
    return payloads
