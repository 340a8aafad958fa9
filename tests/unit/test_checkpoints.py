"""Signed checkpoints of the audit chain's head: signatures, their text forms, keys, and the chain
checked against them."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from hub.domain.audit import GENESIS, AuditEntry, ChainVerifier, SealedEntry, seal
from hub.domain.checkpoint import (
    Checkpoint,
    CheckpointSigner,
    dump_line,
    from_json,
    key_id,
    load_checkpoints,
    private_key,
    public_key,
    public_text,
    signature_problem,
    to_json,
    trusted_heads,
    trusted_keys,
)

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SIGNER = CheckpointSigner.generate()
KEYS = trusted_keys([SIGNER.public_key])
HASH = bytes(range(32))


def test_a_checkpoint_verifies_with_its_public_key() -> None:
    cp = SIGNER.sign(7, HASH, T0)
    assert (cp.seq, cp.hash, cp.at, cp.key_id) == (7, HASH, T0, SIGNER.key_id)
    assert signature_problem(cp, KEYS) is None


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 8},
        {"hash": bytes(32)},
        {"at": T0 + timedelta(microseconds=1)},
        {"signature": bytes(64)},
    ],
    ids=["seq", "hash", "at", "signature"],
)
def test_any_change_breaks_the_signature(change: dict[str, object]) -> None:
    cp = dataclasses.replace(SIGNER.sign(7, HASH, T0), **change)  # type: ignore[arg-type]
    assert signature_problem(cp, KEYS) == f"checkpoint {cp.seq}'s signature does not verify" + (
        f" (key {SIGNER.key_id})"
    )


def test_a_key_not_trusted_is_named() -> None:
    stranger = CheckpointSigner.generate()
    cp = stranger.sign(7, HASH, T0)
    assert signature_problem(cp, KEYS) == (
        f"checkpoint 7 is signed with key {stranger.key_id}, which is not trusted here"
    )
    # Claiming the trusted key's id does not help: the signature is not that key's.
    claimed = dataclasses.replace(cp, key_id=SIGNER.key_id)
    assert signature_problem(claimed, KEYS) is not None


def test_a_signature_covers_its_purpose_not_just_the_head() -> None:
    """The same key signing the bare head (seq, hash) for another purpose is no checkpoint."""
    other = SIGNER._key.sign(json.dumps({"seq": 7, "hash": HASH.hex()}).encode())
    assert signature_problem(dataclasses.replace(SIGNER.sign(7, HASH, T0), signature=other), KEYS)


def test_trusted_heads_keeps_only_what_verifies() -> None:
    good = SIGNER.sign(3, HASH, T0)
    foreign = CheckpointSigner.generate().sign(5, bytes(32), T0)
    heads, problems = trusted_heads([good, foreign], KEYS)
    assert heads == [(3, HASH)]
    assert len(problems) == 1
    assert "not trusted" in problems[0]


def test_the_time_signed_is_the_instant_whatever_the_zone() -> None:
    elsewhere = T0.astimezone(timezone(timedelta(hours=-3)))
    cp = SIGNER.sign(7, HASH, elsewhere)
    assert cp.at == T0
    assert to_json(cp)["at"] == "2026-11-22T12:00:00+00:00"
    assert signature_problem(dataclasses.replace(cp, at=elsewhere), KEYS) is None


def test_a_line_and_the_apis_array_read_back_the_same() -> None:
    cps = [SIGNER.sign(i, HASH, T0 + timedelta(seconds=i, microseconds=i)) for i in (1, 2)]
    lines = "".join(dump_line(cp) for cp in cps)
    assert lines.count("\n") == 2
    assert load_checkpoints(lines) == cps
    assert load_checkpoints(json.dumps([to_json(cp) for cp in cps])) == cps
    assert load_checkpoints("\n" + lines + "\n\n") == cps
    assert load_checkpoints("") == []
    # The API answers `at` as the signed text; a `Z` spelling reads back as the same instant.
    z = to_json(cps[0]) | {"at": "2026-11-22T12:00:01.000001Z"}
    assert signature_problem(from_json(z), KEYS) is None


GOOD = to_json(SIGNER.sign(1, HASH, T0))


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ([], "a checkpoint is a JSON object"),
        ({k: v for k, v in GOOD.items() if k != "signature"}, "a checkpoint needs 'signature'"),
        (GOOD | {"seq": 0}, "seq is a positive integer"),
        (GOOD | {"seq": True}, "seq is a positive integer"),
        (GOOD | {"seq": "1"}, "seq is a positive integer"),
        (GOOD | {"hash": 5}, "are strings"),
        (GOOD | {"hash": "zz"}, "bad hash or time"),
        (GOOD | {"hash": "00"}, "a hash is 32 bytes"),
        (GOOD | {"at": "yesterday"}, "bad hash or time"),
        (GOOD | {"at": "2026-11-22T12:00:00"}, "a time has its zone"),
        (GOOD | {"signature": "%%%"}, "neither PEM nor base64"),
    ],
)
def test_what_is_not_a_checkpoint_is_named(doc: object, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        from_json(doc)


def test_the_bad_line_of_a_file_is_named() -> None:
    with pytest.raises(ValueError, match="line 2: "):
        load_checkpoints(json.dumps(GOOD) + "\n{oops\n")
    with pytest.raises(ValueError, match="not JSON"):
        load_checkpoints("[1, 2")
    with pytest.raises(ValueError, match="a checkpoint is a JSON object"):
        load_checkpoints("[1, 2]")


def test_keys_read_as_base64_or_pem() -> None:
    raw = base64.b64decode(SIGNER.private_text())
    assert len(raw) == 32
    pem = SIGNER._key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    for text in (SIGNER.private_text(), SIGNER.private_text() + "\n", pem, pem.decode()):
        assert key_id(private_key(text).public_key()) == SIGNER.key_id
    pub_pem = SIGNER.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    for text in (public_text(SIGNER.public_key), pub_pem):
        assert key_id(public_key(text)) == SIGNER.key_id
    assert len(SIGNER.key_id) == 16


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("not base64!", "neither PEM nor base64"),
        (base64.b64encode(bytes(31)).decode(), "is 32 bytes, not 31"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "readable PEM"),
    ],
)
def test_a_bad_key_is_refused(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        private_key(text)
    with pytest.raises(ValueError, match=error):
        public_key(text.replace("PRIVATE", "PUBLIC"))


# ---------------------------------------------------------------- the chain against checkpoints


def _rows(n: int = 5) -> list[SealedEntry]:
    entries = [AuditEntry(T0, "hub", "order.transition", f"s{i}") for i in range(n)]
    return seal(0, GENESIS, entries)


def _problem(
    rows: list[SealedEntry], head: tuple[int, bytes], checkpoints: list[tuple[int, bytes]]
) -> str | None:
    checker = ChainVerifier(checkpoints=checkpoints)
    for row in rows:
        if (broken := checker.feed(row)) is not None:
            return broken.problem
    broken = checker.ends_at(*head)
    return broken.problem if broken else None


def _rewritten(rows: list[SealedEntry], without: int) -> list[SealedEntry]:
    """The chain without row `without`, renumbered and rehashed: what an administrator writes."""
    kept = [r.entry for r in rows if r.seq != without]
    return seal(0, GENESIS, kept)


ROWS = _rows()


@pytest.mark.parametrize(
    ("rows", "checkpoints", "problem"),
    [
        (ROWS, [(2, ROWS[1].hash), (5, ROWS[4].hash)], None),
        (ROWS, [], None),
        # a row deleted and the rest rehashed, the head rewritten: the chain alone verifies ...
        (_rewritten(ROWS, 2), [], None),
        # ... the checkpoint of a row at or after the deletion does not
        (_rewritten(ROWS, 2), [(2, ROWS[1].hash)], "row differs from the signed checkpoint"),
        (_rewritten(ROWS, 4), [(2, ROWS[1].hash)], None),  # after the checkpoint: not seen
        (
            _rewritten(ROWS, 4),
            [(2, ROWS[1].hash), (5, ROWS[4].hash)],
            "rows 5 to 5 are missing (a signed checkpoint is 5)",
        ),
        (ROWS[:3], [(5, ROWS[4].hash)], "rows 4 to 5 are missing (a signed checkpoint is 5)"),
        # two checkpoints of one row that disagree: the row can match only one
        (ROWS, [(3, ROWS[2].hash), (3, HASH)], "row differs from the signed checkpoint"),
    ],
    ids=[
        "intact",
        "none",
        "rewritten-unchecked",
        "rewritten-caught",
        "rewritten-after-checkpoint",
        "cut-caught",
        "truncated",
        "conflicting",
    ],
)
def test_the_chain_must_hold_every_signed_checkpoint(
    rows: list[SealedEntry], checkpoints: list[tuple[int, bytes]], problem: str | None
) -> None:
    head = (rows[-1].seq, rows[-1].hash)
    assert _problem(rows, head, checkpoints) == problem


def test_a_checkpoint_before_a_partial_start_must_be_the_start() -> None:
    checker = ChainVerifier(3, ROWS[2].hash, checkpoints=[(2, HASH)])
    for row in ROWS[3:]:
        assert checker.feed(row) is None
    broken = checker.ends_at(5, ROWS[4].hash)
    assert broken is not None
    assert (broken.seq, broken.problem) == (2, "the signed checkpoint is not in the chain")


def test_checkpoints_are_frozen_values() -> None:
    cp = SIGNER.sign(1, HASH, T0)
    assert isinstance(cp, Checkpoint)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cp.seq = 2  # type: ignore[misc]
