"""Signatures on what courts send the hub (pure): Ed25519, one key pair per court system.

A court system signs the exact bytes of the message body with its private key and sends two AMQP
headers: `x-court-key-id` (which key) and `x-court-signature` (the 64-byte signature, base64).
The hub holds only public keys (`HubSettings.security.court_keys`, key id -> system and key), so a
leaked hub configuration lets nobody forge a document. A key signs only for its own system: the
envelope's `source.system` must be the key's. Anything else is refused with reason `bad_signature`:

* no signature, when signatures are required (production);
* a key id the hub does not know, or a key of another system;
* a signature that does not verify: the body was altered, or signed with another key.

Replays of a validly signed message are not a signature matter: the inbox deduplicates them by
message id.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from contracts import ContractError
from hub.domain.authority import Actor
from hub.domain.sender import Inbound
from hub.settings import CourtKey, SecuritySettings

__all__ = [
    "KEY_ID_HEADER",
    "SIGNATURE_HEADER",
    "CourtSigner",
    "TrustedKey",
    "check_signature",
    "court_actor",
    "trusted_keys",
]

KEY_ID_HEADER = "x-court-key-id"
SIGNATURE_HEADER = "x-court-signature"
_REASON = "bad_signature"
_MAX_HEADER = 200  # a key id or a base64 signature is far shorter; longer is garbage


def _refuse(message: str) -> ContractError:
    return ContractError(message, reason=_REASON)


@dataclass(frozen=True)
class CourtSigner:
    """A court system's private key, as the court (or a simulator, or a test) holds it."""

    key_id: str
    system: str
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, key_id: str, system: str) -> CourtSigner:
        """A fresh key pair; nothing private is ever written down in this repository."""
        return cls(key_id, system, Ed25519PrivateKey.generate())

    def sign(self, body: bytes) -> str:
        """The base64 signature of `body`."""
        return base64.b64encode(self.private_key.sign(body)).decode("ascii")

    def headers(self, body: bytes) -> dict[str, str]:
        """The AMQP headers that carry the signature of `body`."""
        return {KEY_ID_HEADER: self.key_id, SIGNATURE_HEADER: self.sign(body)}

    def court_key(self, courts: tuple[str, ...] = ("*",)) -> CourtKey:
        """The public half, as the hub's settings register it, speaking for `courts` (every
        court by default: a simulator's or a test's key; production gives each key its own)."""
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        public = base64.b64encode(raw).decode("ascii")
        return CourtKey(system=self.system, public_key=public, courts=courts)


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    value = headers.get(name)
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_HEADER:
        raise _refuse(f"header {name} is not a short string")
    return value


def _decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse(f"{what} is not base64") from None


@dataclass(frozen=True)
class TrustedKey:
    """A registered court key, ready to verify with."""

    system: str
    public_key: Ed25519PublicKey
    courts: tuple[str, ...] = ()


def trusted_keys(keys: Mapping[str, CourtKey]) -> dict[str, TrustedKey]:
    """Load the registered keys; raise ValueError (at start-up) for one that is not Ed25519."""
    loaded = {}
    for key_id, key in keys.items():
        raw = base64.b64decode(key.public_key, validate=True)
        public = Ed25519PublicKey.from_public_bytes(raw)
        loaded[key_id] = TrustedKey(key.system, public, key.courts)
    return loaded


def check_signature(
    inbound: Inbound, keys: Mapping[str, TrustedKey], *, required: bool
) -> str | None:
    """Accept `inbound` if it is signed by a registered key of its own system, and return that
    key's id (None for an unsigned document while signatures are not required); else raise."""
    key_id = _header(inbound.headers, KEY_ID_HEADER)
    signature = _header(inbound.headers, SIGNATURE_HEADER)
    if key_id is None and signature is None and not required:
        return None
    if key_id is None or signature is None:
        raise _refuse(f"unsigned document: {KEY_ID_HEADER} and {SIGNATURE_HEADER} are required")
    key = keys.get(key_id)
    if key is None:
        raise _refuse(f"signed with unknown key {key_id[:64]!r}")
    system = inbound.envelope.source.system
    if key.system != system:
        raise _refuse(f"key {key_id!r} signs for {key.system}, not for {system}")
    try:
        key.public_key.verify(_decode(signature, "signature"), inbound.body)
    except InvalidSignature:
        raise _refuse(f"signature by key {key_id!r} does not match the body") from None
    return key_id


def court_actor(
    inbound: Inbound, keys: Mapping[str, TrustedKey], key_id: str | None, security: SecuritySettings
) -> Actor:
    """Who a verified court document comes from, and the courts it may speak for.

    A court system's RabbitMQ login may carry only its own system's documents. An unsigned
    document (signatures not required: never in production) speaks for every court.
    """
    system = inbound.envelope.source.system
    login = inbound.sender.login
    a_court = login is not None and login.startswith(security.court_user(""))
    if a_court and login != security.court_user(system):
        raise ContractError(f"{login} may not send documents of {system}", reason="wrong_sender")
    if key_id is None:
        return Actor(f"court:{system}:unsigned", ("*",))
    return Actor(f"court:{system}:{key_id}", keys[key_id].courts)
