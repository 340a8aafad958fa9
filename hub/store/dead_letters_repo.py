"""SQL for the dead letters parked by the DLQ consumers: one row per (message id, failed queue).

A message that fails again on the same queue counts up on its row (`failures`) and is parked anew,
whatever an operator had done with it since. A dead letter whose id is no UUID has none here: each
of its failures is a row of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from hub.store.pool import Conn

__all__ = ["Parked", "Stored", "upsert"]


@dataclass(frozen=True)
class Parked:
    """A dead letter as stored: where it failed, why, and the original message."""

    message_id: str | None
    connector: str
    queue: str
    kind: str | None
    correlation_id: str | None
    error_type: str
    reason: str
    error_message: str
    trace: str
    body: bytes
    headers: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Stored:
    """The row a dead letter was parked in, and how many times its message failed there."""

    id: int
    failures: int


_UPSERT = """
INSERT INTO dead_letters (message_id, connector, queue, kind, correlation_id, error_type, reason,
    error_message, trace, body, headers, attempts, first_failed_at, last_failed_at, status_at)
VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13)
ON CONFLICT (message_id, queue) WHERE message_id IS NOT NULL DO UPDATE SET
    failures = dead_letters.failures + 1, last_failed_at = EXCLUDED.last_failed_at,
    error_type = EXCLUDED.error_type, reason = EXCLUDED.reason,
    error_message = EXCLUDED.error_message, trace = EXCLUDED.trace, headers = EXCLUDED.headers,
    attempts = EXCLUDED.attempts, status = 'parked', status_at = EXCLUDED.status_at
RETURNING id, failures
"""


async def upsert(conn: Conn, p: Parked, now: datetime) -> Stored:
    """Park `p` failed at `now`: a new row, or its message's row on that queue counted up."""
    row = await conn.fetchrow(
        _UPSERT,
        _uuid_or_none(p.message_id),
        p.connector,
        p.queue,
        p.kind,
        p.correlation_id,
        p.error_type,
        p.reason,
        p.error_message,
        p.trace,
        p.body,
        p.headers,
        p.attempts,
        now,
    )
    assert row is not None  # an upsert RETURNING gives its row
    return Stored(int(row["id"]), int(row["failures"]))


def _uuid_or_none(value: str | None) -> str | None:
    try:
        return str(UUID(value)) if value else None
    except ValueError:
        return None
