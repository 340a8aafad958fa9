"""The bench's traffic: distinct, valid `court.warrant.issued` envelopes, made fast.

One envelope is built and validated through the contracts; every message after it is that
template's JSON with a new message id, warrant number, process number and CPF, each computed with
its real check digits (`format_cnj`, `cpf_check_digits`), so the hub sees a new warrant per message
and no envelope is rejected. Building by template (about 0.1 ms a message, less than half of what
validating one costs) keeps the generator from stealing much CPU from what is measured.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connectors.court.signing import CourtSigner
from contracts import (
    Envelope,
    Source,
    WarrantIssued,
    WarrantSpecies,
    cpf_check_digits,
    format_cnj,
    parse_envelope,
)

__all__ = ["COURT", "WarrantFactory", "sent_at"]

# The bench's court system: a fixed key (the orchestrator, the load generator and the hub's worker
# are separate processes; a bench key is no secret), registered in the bench's settings, so the
# hub verifies every warrant's signature as in production.
SIGNER = CourtSigner(
    "bench-rupe",
    "RUPE",
    Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bench court key").digest()),
)
COURT = Source(connector="court", system="RUPE", unit="tjmg.vep-bh")
_T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
_FIRST_PROCESS = 1_000_000  # process numbers NNNNNNN start here; the year varies by round


def _template() -> dict[str, Any]:
    warrant = WarrantIssued(
        warrant_number=f"{format_cnj(1, 2023, 8, 13, 24)}.0001",
        process_number=format_cnj(1, 2023, 8, 13, 24),
        species=WarrantSpecies.PREVENTIVE,
        reason="conversão do flagrante em preventiva",
        legal_ground="CPP art. 312",
        offence="CP art. 157",
        valid_until=date(2036, 3, 1),
        issued_at=_T0 - timedelta(days=1),
        signed_at=_T0 - timedelta(days=1),
        judge="Juíza Exemplo",
        issuing_court="tjmg.vep-bh",
        person={"cpf": "12345678909", "name": "Fulano de Tal", "birth_date": date(1990, 5, 17)},
    )
    env = Envelope.new(warrant, source=COURT, occurred_at=_T0)
    doc: dict[str, Any] = json.loads(env.to_bytes())
    return doc


class WarrantFactory:
    """Makes the i-th warrant envelope's JSON body (distinct for every i below 9,000,000)."""

    def __init__(self, year: int = 2023) -> None:
        self._doc = _template()
        self._year = year
        parse_envelope(self.make(0)[1])  # the template and its substitutions pass the contracts

    def make(self, i: int, occurred_at: datetime | None = None) -> tuple[str, bytes]:
        """Message id and JSON body of warrant `i`; `occurred_at` stamps the send time."""
        process = format_cnj(_FIRST_PROCESS + i, self._year, 8, 13, 24)
        number = f"{process}.0001"
        nine = f"{100_000_000 + i * 7919 % 899_999_999:09d}"
        payload = {
            **self._doc["payload"],
            "warrant_number": number,
            "process_number": process,
            "person": {**self._doc["payload"]["person"], "cpf": nine + cpf_check_digits(nine)},
        }
        message_id = str(uuid.uuid4())
        doc = {
            **self._doc,
            "message_id": message_id,
            "correlation_id": number,
            "payload": payload,
        }
        if occurred_at is not None:
            doc["occurred_at"] = occurred_at.isoformat()
        return message_id, json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def sent_at(body: bytes) -> datetime:
    """The send time stamped in a body by `WarrantFactory.make` (the hub forwards it unchanged)."""
    return datetime.fromisoformat(json.loads(body)["occurred_at"])
