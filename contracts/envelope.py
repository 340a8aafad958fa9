"""The envelope every message travels in, and the one parser that turns bytes into it.

Modelled on the PDPJ RabbitMQ event envelope (uuid, eventName, sigiloDoEvento, payloadType,
payload): a message id, the kind and its schema version, when it happened,
which order or warrant it belongs to, what caused it, who sent it, how secret it is, and the
payload, a discriminated union on `kind`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Annotated, Literal, get_args
from uuid import UUID, uuid4

from pydantic import (
    AwareDatetime,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from contracts.base import Contract, Secrecy
from contracts.bnmp import (
    BnmpChangeUnrecognised,
    BnmpRegistrationCompleted,
    BnmpRegistrationRejected,
    WarrantComplied,
    WarrantExpired,
    WarrantRecorded,
)
from contracts.court import ReleaseOrderIssued, WarrantIssued, WarrantRevoked
from contracts.custodial_unit import ComplianceCertified, ReceiptAcknowledged
from contracts.errors import ContractError, from_validation_error
from contracts.hub_events import DeadlineAlert, ImpedimentLifted, ImpedimentReferred
from contracts.ids import DocumentNumber, UnitId
from contracts.setarim import ValidationCompleted

__all__ = [
    "KINDS",
    "PAYLOAD_TYPES",
    "AnyPayload",
    "Connector",
    "Envelope",
    "Payload",
    "Secrecy",
    "Source",
    "parse_envelope",
]

# Every payload model, in one place: the discriminated union and the kind registry derive from it.
AnyPayload = (
    ReleaseOrderIssued
    | WarrantIssued
    | WarrantRevoked
    | ValidationCompleted
    | ReceiptAcknowledged
    | ComplianceCertified
    | BnmpRegistrationCompleted
    | BnmpRegistrationRejected
    | WarrantComplied
    | WarrantExpired
    | WarrantRecorded
    | BnmpChangeUnrecognised
    | ImpedimentReferred
    | ImpedimentLifted
    | DeadlineAlert
)
Payload = Annotated[AnyPayload, Field(discriminator="kind")]

_PAYLOAD_CLASSES: tuple[type[AnyPayload], ...] = get_args(AnyPayload)
PAYLOAD_TYPES: Mapping[str, type[AnyPayload]] = MappingProxyType(
    {cls.model_fields["kind"].default: cls for cls in _PAYLOAD_CLASSES}
)
KINDS: tuple[str, ...] = tuple(sorted(PAYLOAD_TYPES))

Connector = Literal["court", "setarim", "custodial_unit", "bnmp", "hub"]
SystemName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$")]


class Source(Contract):
    """Who sent the message: the hub connector, the external system and, if known, the unit."""

    connector: Connector
    system: SystemName
    unit: UnitId | None = None


class Envelope(Contract):
    """One message on the bus: metadata plus a payload whose `kind` matches the envelope's."""

    message_id: UUID
    kind: Annotated[str, WithJsonSchema({"type": "string", "enum": list(KINDS)})]
    schema_version: Annotated[int, Field(ge=1, strict=True)]
    occurred_at: AwareDatetime
    correlation_id: DocumentNumber
    causation_id: UUID | None = None
    source: Source
    secrecy: Secrecy
    payload: Payload

    @model_validator(mode="after")
    def _check_payload(self) -> Envelope:
        if self.kind != self.payload.kind:
            raise ContractError(
                f"envelope kind {self.kind} differs from payload kind {self.payload.kind}",
                reason="kind_mismatch",
            )
        current = type(self.payload).SCHEMA_VERSION
        if self.schema_version != current:
            raise ContractError(
                f"schema_version {self.schema_version} of {self.kind} is not supported "
                f"(current: {current})",
                reason="unsupported_schema_version",
            )
        if self.secrecy.rank < self.payload.min_secrecy.rank:
            raise ContractError(
                f"a {self.payload.min_secrecy} payload cannot travel in a {self.secrecy} "
                "envelope (R417 art.34)",
                reason="secrecy_downgrade",
            )
        return self

    @classmethod
    def new(
        cls,
        payload: AnyPayload,
        *,
        source: Source,
        correlation_id: str | None = None,
        causation_id: UUID | None = None,
        secrecy: Secrecy | None = None,
        occurred_at: datetime | None = None,
        message_id: UUID | None = None,
    ) -> Envelope:
        """Wrap a payload, defaulting the correlation to its business key and secrecy to its own."""
        return cls(
            message_id=message_id or uuid4(),
            kind=payload.kind,
            schema_version=type(payload).SCHEMA_VERSION,
            occurred_at=occurred_at or datetime.now(UTC),
            correlation_id=correlation_id or payload.business_key,
            causation_id=causation_id,
            source=source,
            secrecy=secrecy or payload.min_secrecy,
            payload=payload,
        )

    def to_json(self) -> str:
        """Serialise to the JSON text that `parse_envelope` reads back unchanged."""
        return self.model_dump_json()

    def to_bytes(self) -> bytes:
        """Serialise to UTF-8 JSON bytes, the body of the AMQP message."""
        return self.to_json().encode("utf-8")


def _load(raw: bytes | str) -> object:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError too
        raise ContractError(
            f"message body is not UTF-8 JSON: {type(e).__name__}", reason="malformed_json"
        ) from None


def _precheck(data: object) -> str:
    if not isinstance(data, dict):
        raise ContractError(
            f"message body must be a JSON object, got {type(data).__name__}",
            reason="invalid_envelope",
        )
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in PAYLOAD_TYPES:
        shown = kind if isinstance(kind, str) else type(kind).__name__
        raise ContractError(f"unknown message kind {shown[:80]!r}", reason="unknown_kind")
    version = data.get("schema_version")
    current = PAYLOAD_TYPES[kind].SCHEMA_VERSION
    if isinstance(version, int) and not isinstance(version, bool) and version != current:
        raise ContractError(
            f"schema_version {version} of {kind} is not supported (current: {current})",
            reason="unsupported_schema_version",
        )
    return kind


def _reason_of(error: ValidationError) -> str:
    if any(item["loc"][:1] == ("payload",) for item in error.errors()):
        return "invalid_payload"
    return "invalid_envelope"


def parse_envelope(raw: bytes | str) -> Envelope:
    """Parse a message body into an `Envelope`; raise only `ContractError`, with a reason code.

    Reasons: malformed_json, invalid_envelope, unknown_kind, unsupported_schema_version,
    invalid_payload. The message lists the field errors and never echoes input values.
    """
    kind = _precheck(_load(raw))
    try:
        return Envelope.model_validate_json(raw)
    except ValidationError as e:
        raise from_validation_error(e, subject=f"{kind} message", reason=_reason_of(e)) from None
