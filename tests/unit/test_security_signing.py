"""Court documents are verified by per-system Ed25519 keys; the hub's webhooks are HMAC-signed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from connectors.court import mapping
from connectors.court.handlers import make_verify
from connectors.court.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    CourtSigner,
    check_signature,
    trusted_keys,
)
from contracts import ContractError, Envelope
from hub.clock import utc_now
from hub.connector import Inbound, Resources
from hub.domain.outgoing import Outgoing
from hub.domain.sender import NOBODY
from hub.settings import CourtKey, HubSettings, SecuritySettings
from tests.factories import make_envelope, make_release_order

RUPE = CourtSigner.generate("rupe-2026", "RUPE")  # the factories' court documents come from RUPE
SAJ = CourtSigner.generate("saj-2026", "SAJ")
KEYS = trusted_keys({s.key_id: s.court_key() for s in (RUPE, SAJ)})
ENV = make_envelope(make_release_order())
BODY = ENV.to_bytes()


class _NoPublishing:
    async def publish(self, message: Outgoing) -> None:
        raise AssertionError("a verifier publishes nothing")


def _resources(security: SecuritySettings) -> Resources:
    """What the hub lends a verifier; it reads only the settings."""
    return Resources(HubSettings(security=security), httpx.AsyncClient(), _NoPublishing(), utc_now)


def _inbound(headers: Mapping[str, Any], body: bytes = BODY, env: Envelope = ENV) -> Inbound:
    return Inbound(env, body, headers, NOBODY)


def _refused(inbound: Inbound, *, required: bool = True) -> str:
    with pytest.raises(ContractError) as caught:
        check_signature(inbound, KEYS, required=required)
    assert caught.value.reason == "bad_signature"
    return str(caught.value)


def test_a_document_signed_by_its_systems_key_passes() -> None:
    """The signature of the exact body by a registered key of the sender's system verifies."""
    check_signature(_inbound(RUPE.headers(BODY)), KEYS, required=True)


def test_a_signature_sent_as_bytes_headers_passes() -> None:
    """AMQP may carry the headers as byte strings; they verify the same."""
    headers = {k: v.encode() for k, v in RUPE.headers(BODY).items()}
    check_signature(_inbound(headers), KEYS, required=True)


@pytest.mark.parametrize(
    "altered",
    [
        BODY + b" ",
        BODY.replace(b"Fulano", b"Fulana"),
        BODY.replace(b'"motive":"', b'"motive": "'),
        BODY[:-1],
    ],
)
def test_an_altered_body_is_refused(altered: bytes) -> None:
    """Any change to the signed bytes, even one that means the same JSON, fails verification."""
    assert altered != BODY
    assert "does not match" in _refused(_inbound(RUPE.headers(BODY), body=altered))


def test_a_signature_by_an_unknown_key_is_refused() -> None:
    """A key id the hub has not registered is refused, whatever the signature."""
    stranger = CourtSigner.generate("stranger", "RUPE")
    assert "unknown key" in _refused(_inbound(stranger.headers(BODY)))


def test_a_forger_using_a_registered_key_id_is_refused() -> None:
    """A signature made with another private key under a registered key id does not verify."""
    forger = CourtSigner.generate(RUPE.key_id, "RUPE")
    assert "does not match" in _refused(_inbound(forger.headers(BODY)))


def test_a_key_signs_only_for_its_own_system() -> None:
    """SAJ's valid signature on a document whose source is RUPE is refused."""
    assert "signs for SAJ" in _refused(_inbound(SAJ.headers(BODY)))


def test_a_missing_signature_is_refused_when_required() -> None:
    """Without the two headers, a document is refused when signatures are required."""
    assert "unsigned" in _refused(_inbound({}))


def test_a_missing_signature_passes_when_not_required() -> None:
    """With signatures optional an unsigned document passes; a present one is still checked."""
    check_signature(_inbound({}), KEYS, required=False)
    _refused(_inbound(RUPE.headers(BODY), body=BODY + b" "), required=False)


@pytest.mark.parametrize(
    "headers",
    [
        {KEY_ID_HEADER: RUPE.key_id},
        {SIGNATURE_HEADER: RUPE.sign(BODY)},
        {KEY_ID_HEADER: RUPE.key_id, SIGNATURE_HEADER: "not base64!"},
        {KEY_ID_HEADER: RUPE.key_id, SIGNATURE_HEADER: "QUJD"},
        {KEY_ID_HEADER: RUPE.key_id, SIGNATURE_HEADER: 42},
        {KEY_ID_HEADER: RUPE.key_id, SIGNATURE_HEADER: "A" * 5000},
        {KEY_ID_HEADER: "", SIGNATURE_HEADER: RUPE.sign(BODY)},
        {KEY_ID_HEADER: ["rupe-2026"], SIGNATURE_HEADER: RUPE.sign(BODY)},
    ],
    ids=[
        "key_only",
        "signature_only",
        "not_base64",
        "short",
        "not_a_string",
        "huge",
        "empty_key_id",
        "list_key_id",
    ],
)
def test_malformed_signature_headers_are_refused(headers: dict[str, Any]) -> None:
    """Half a signature or a garbled one is refused even when signatures are optional."""
    _refused(_inbound(headers), required=False)


def test_registered_keys_must_look_like_ed25519_public_keys() -> None:
    """A key that is not 32 bytes of base64 is refused when the settings are read."""
    with pytest.raises(ValidationError):
        CourtKey(system="RUPE", public_key="c2hvcnQ=")


def test_production_defaults_require_signatures_and_unit_identity() -> None:
    """Unless told otherwise, the hub refuses unsigned documents and anonymous unit messages."""
    security = SecuritySettings()
    assert security.require_signatures
    assert security.require_unit_identity
    assert security.court_keys == {}


def test_the_court_connector_verifies_with_the_settings_keys() -> None:
    """The court spec's verify trusts the keys of `settings.security`, and nothing else."""
    security = SecuritySettings(court_keys={RUPE.key_id: RUPE.court_key()})
    verify = make_verify(_resources(security))
    verify(_inbound(RUPE.headers(BODY)))
    with pytest.raises(ContractError, match="unknown key"):
        verify(_inbound(SAJ.headers(BODY)))
    with pytest.raises(ContractError, match="unsigned"):
        verify(_inbound({}))


@pytest.mark.parametrize(
    ("secret", "body", "valid"),
    [("s3cret-s3cret-s3cret", BODY, True), ("other", BODY, False), ("s3cret", BODY + b" ", False)],
)
def test_webhooks_to_courts_are_hmac_signed(secret: str, body: bytes, valid: bool) -> None:
    """A court checks the hub's webhook with its own secret; another secret or body fails."""
    signature = mapping.sign("s3cret-s3cret-s3cret", BODY, "m-1", 1_700_000_000)
    assert signature.startswith("t=1700000000,v1=")
    assert mapping.verify(secret, body, "m-1", signature, 1_700_000_010) is valid
    assert mapping.verify("s3cret-s3cret-s3cret", BODY, "m-1", None, 1_700_000_010) is False
