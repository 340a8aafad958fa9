"""Signed checkpoints of the audit chain's head (pure): what someone who can write to the database
cannot forge.

The chain alone is unkeyed: whoever can write to the database (a superuser, the tables' owner with
its append-only trigger disabled) can delete a row, rehash every row after it and rewrite the head
row, and the chain verifies again. A checkpoint is the head (seq, hash) at a moment, signed with an
Ed25519 key the database does not hold. Checkpoints are kept outside the database (a file, the ops
API and whoever fetched them there) and `audit verify --checkpoints FILE` requires the chain to
still hold every checkpointed row with its hash: a rewrite of any row at or before the latest
checkpoint is caught. Rows after the latest checkpoint are as safe as the chain alone until the
next one is signed (`AuditSettings.checkpoint_every_s`).

A checkpoint signs its canonical form: the compact, key-sorted JSON of `{kind, seq, hash, at,
key_id}`, where `kind` names this use of the key so that a signature made for anything else never
reads as a checkpoint. Key ids are derived from the public key (the first 8 bytes of its SHA-256,
in hex), so a verifier matches a checkpoint to one of its keys without a registry of names.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

__all__ = [
    "KIND",
    "Checkpoint",
    "CheckpointSigner",
    "dump_line",
    "from_json",
    "key_id",
    "load_checkpoints",
    "private_key",
    "public_key",
    "public_text",
    "signature_problem",
    "signed_bytes",
    "to_json",
    "trusted_heads",
    "trusted_keys",
]

KIND = "court-prison-hub/audit-checkpoint/v1"
_HASH_LEN = 32


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head `seq`/`hash` at `at`, signed by the key `key_id`."""

    seq: int
    hash: bytes
    at: datetime
    key_id: str
    signature: bytes


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """The id of a public key: the first 8 bytes of the SHA-256 of its raw form, in hex."""
    return hashlib.sha256(_raw(key)).hexdigest()[:16]


def public_text(key: Ed25519PublicKey) -> str:
    """A public key as settings and `audit verify --public-key` take it: raw 32 bytes, base64."""
    return base64.b64encode(_raw(key)).decode("ascii")


def signed_bytes(seq: int, hash_: bytes, at: datetime, key: str) -> bytes:
    """The bytes a checkpoint's signature covers."""
    doc = {
        "kind": KIND,
        "seq": seq,
        "hash": hash_.hex(),
        "at": at.astimezone(UTC).isoformat(),
        "key_id": key,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


class CheckpointSigner:
    """The hub's checkpoint key: signs heads. Only the hub's workers hold it, never the database."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key = key.public_key()
        self.key_id = key_id(self.public_key)

    @classmethod
    def generate(cls) -> CheckpointSigner:
        """A fresh key (for `python -m hub audit keygen` and tests)."""
        return cls(Ed25519PrivateKey.generate())

    def private_text(self) -> str:
        """The private key as settings take it: raw 32 bytes, base64 (keep it secret)."""
        raw = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return base64.b64encode(raw).decode("ascii")

    def sign(self, seq: int, hash_: bytes, at: datetime) -> Checkpoint:
        """A checkpoint of the head (`seq`, `hash_`) at `at`."""
        signature = self._key.sign(signed_bytes(seq, hash_, at, self.key_id))
        return Checkpoint(seq, hash_, at.astimezone(UTC), self.key_id, signature)


def _decode(text: str | bytes, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is neither PEM nor base64") from None


def _is_pem(text: str | bytes) -> bool:
    return (text.encode() if isinstance(text, str) else text).lstrip().startswith(b"-----BEGIN")


def private_key(text: str | bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from base64 of its raw 32 bytes, or from unencrypted PKCS#8 PEM."""
    data = text.encode() if isinstance(text, str) else text
    if _is_pem(data):
        try:
            key = load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError("the checkpoint key is not a readable PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the checkpoint key must be an Ed25519 key")
        return key
    raw = _decode(data.strip(), "the checkpoint key")
    if len(raw) != _HASH_LEN:
        raise ValueError(f"an Ed25519 private key is 32 bytes, not {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key(text: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from base64 of its raw 32 bytes, or from PEM."""
    data = text.encode() if isinstance(text, str) else text
    if _is_pem(data):
        try:
            key = load_pem_public_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError("a checkpoint public key is not a readable PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("a checkpoint public key must be an Ed25519 key")
        return key
    raw = _decode(data.strip(), "a checkpoint public key")
    if len(raw) != _HASH_LEN:
        raise ValueError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def trusted_keys(keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """Public keys by their id."""
    return {key_id(k): k for k in keys}


def signature_problem(cp: Checkpoint, keys: Mapping[str, Ed25519PublicKey]) -> str | None:
    """Why `cp` cannot be trusted with `keys`, or None when its signature verifies."""
    key = keys.get(cp.key_id)
    if key is None:
        return f"checkpoint {cp.seq} is signed with key {cp.key_id}, which is not trusted here"
    try:
        key.verify(cp.signature, signed_bytes(cp.seq, cp.hash, cp.at, cp.key_id))
    except InvalidSignature:
        return f"checkpoint {cp.seq}'s signature does not verify (key {cp.key_id})"
    return None


def to_json(cp: Checkpoint) -> dict[str, Any]:
    """A checkpoint as the file, the API and the verifier exchange it."""
    return {
        "seq": cp.seq,
        "hash": cp.hash.hex(),
        "at": cp.at.astimezone(UTC).isoformat(),
        "key_id": cp.key_id,
        "signature": base64.b64encode(cp.signature).decode("ascii"),
    }


def dump_line(cp: Checkpoint) -> str:
    """One line of a checkpoint file (JSON Lines)."""
    return json.dumps(to_json(cp), sort_keys=True, separators=(",", ":")) + "\n"


def from_json(doc: Any) -> Checkpoint:
    """A checkpoint from its JSON form; `ValueError` says what is wrong with it."""
    if not isinstance(doc, dict):
        raise ValueError("a checkpoint is a JSON object")
    try:
        seq, hash_hex, at, kid, sig = (
            doc["seq"],
            doc["hash"],
            doc["at"],
            doc["key_id"],
            doc["signature"],
        )
    except KeyError as e:
        raise ValueError(f"a checkpoint needs {e.args[0]!r}") from None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("a checkpoint's seq is a positive integer")
    if not all(isinstance(v, str) for v in (hash_hex, at, kid, sig)):
        raise ValueError("a checkpoint's hash, at, key_id and signature are strings")
    try:
        hash_ = bytes.fromhex(hash_hex)
        when = datetime.fromisoformat(at)
    except ValueError:
        raise ValueError(f"checkpoint {seq}: bad hash or time") from None
    if len(hash_) != _HASH_LEN or when.tzinfo is None:
        raise ValueError(f"checkpoint {seq}: a hash is 32 bytes and a time has its zone")
    return Checkpoint(seq, hash_, when, kid, _decode(sig, f"checkpoint {seq}'s signature"))


def load_checkpoints(text: str) -> list[Checkpoint]:
    """Checkpoints from a file's text: JSON Lines (as the hub writes them), or one JSON array (as
    the ops API returns them). `ValueError` names the first line that is not a checkpoint."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            docs = json.loads(stripped)
        except json.JSONDecodeError as e:
            raise ValueError(f"not JSON: {e}") from None
        return [from_json(d) for d in docs]
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(from_json(json.loads(line)))
        except (json.JSONDecodeError, ValueError) as e:
            raise ValueError(f"line {number}: {e}") from None
    return found


def trusted_heads(
    found: Iterable[Checkpoint], keys: Mapping[str, Ed25519PublicKey]
) -> tuple[list[tuple[int, bytes]], list[str]]:
    """The heads (seq, hash) of the checkpoints whose signatures verify with `keys`, and why each
    of the others cannot be trusted."""
    heads: list[tuple[int, bytes]] = []
    problems: list[str] = []
    for cp in found:
        problem = signature_problem(cp, keys)
        if problem is None:
            heads.append((cp.seq, cp.hash))
        else:
            problems.append(problem)
    return heads, problems
