"""Signing the audit chain's head now and then, so that a rewrite of the chain shows.

A hub worker holding the checkpoint key (`AuditSettings`) signs the head every
`checkpoint_every_s` seconds when it moved (`hub.domain.checkpoint`), appends the checkpoint to
its file and keeps it in the database, for the ops API. The file comes first: a checkpoint that
reached the file but not the database is still a valid one; the reverse would be one fewer kept
outside the database. Workers take turns through a transaction-scoped advisory lock, so one head
is signed once. The last head is signed once more when the hub stops cleanly.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import structlog

from hub.clock import Clock
from hub.domain.checkpoint import Checkpoint, CheckpointSigner, dump_line, private_key
from hub.settings import AuditSettings
from hub.store import audit_repo

__all__ = ["CheckpointFileError", "checkpoint_once", "load_signer", "run_checkpointer"]

log = structlog.get_logger("hub.audit")


class CheckpointFileError(RuntimeError):
    """The checkpoint file could not be written: the checkpoint is not kept (retried)."""


def load_signer(settings: AuditSettings) -> CheckpointSigner | None:
    """The checkpoint key from the settings, or None when none is given; a key given but not
    readable as an Ed25519 private key raises `ValueError` (or `OSError` for its file)."""
    if settings.checkpoint_key is not None:
        return CheckpointSigner(private_key(settings.checkpoint_key.get_secret_value()))
    if settings.checkpoint_key_file is not None:
        return CheckpointSigner(private_key(settings.checkpoint_key_file.read_bytes()))
    return None


def _append(path: Path, line: str) -> None:
    """Append one line and make it durable before the database records the checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


async def checkpoint_once(
    pool: asyncpg.Pool, signer: CheckpointSigner, clock: Clock, file: Path | None
) -> Checkpoint | None:
    """Sign the head if it moved since the last checkpoint and no other process is signing;
    return the new checkpoint, or None."""
    async with pool.acquire() as conn, conn.transaction():
        if not await audit_repo.lock_checkpointing(conn):
            return None
        head = await audit_repo.read_head(conn)
        if head is None or head[0] <= await audit_repo.last_checkpoint_seq(conn):
            return None
        cp = signer.sign(head[0], head[1], clock())
        if file is not None:
            try:
                await asyncio.to_thread(_append, file, dump_line(cp))
            except OSError as e:
                raise CheckpointFileError(f"{file}: {e.strerror or type(e).__name__}") from e
        await audit_repo.add_checkpoint(conn, cp)
    log.info("audit.checkpoint", seq=cp.seq, key_id=cp.key_id)
    return cp


async def run_checkpointer(
    pool: asyncpg.Pool,
    signer: CheckpointSigner,
    clock: Clock,
    file: Path | None,
    *,
    every_s: float,
) -> None:
    """Checkpoint for ever, every `every_s` seconds, through database outages."""
    while True:
        try:
            await checkpoint_once(pool, signer, clock, file)
        except CheckpointFileError as e:  # kept outside the database, or not at all
            log.error("audit.checkpoint_file_failed", error=str(e))
        except Exception as e:  # the database; retried at the next turn
            log.warning("audit.checkpoint_failed", error=type(e).__name__)
        await asyncio.sleep(every_s)
