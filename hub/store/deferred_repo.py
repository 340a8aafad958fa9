"""SQL for an external system's availability: its circuit (`connector_health`), its outages, and
the deliveries deferred while it is down (`deferred`), read back in order by the drainer.

The batch that defers or undefers a delivery writes `deferred` in its own statement
(`hub.store.state_repo.add_changes`); here are the drainer's reads and the circuit's writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast
from uuid import UUID

from hub.domain.circuit import Circuit, State
from hub.store.pool import Conn

__all__ = [
    "DeferredRow",
    "has_deferred",
    "oldest_deferred",
    "save_circuit",
    "saved_circuit",
    "try_lock_drain",
    "unlock_drain",
]

_DRAIN_LOCK_BASE: Final = 0x4855_4400  # one drainer per connector across hub processes


@dataclass(frozen=True)
class DeferredRow:
    """A deferred delivery as the drainer reads it: its place in the backlog and the message."""

    seq: int
    queue: str
    message_id: UUID
    body: bytes
    headers: dict[str, Any]


async def saved_circuit(conn: Conn, connector: str) -> Circuit | None:
    """The circuit a previous process left for `connector` (state, failures, down since), if any."""
    row = await conn.fetchrow(
        "SELECT state, failures, down_since FROM connector_health WHERE connector = $1",
        connector,
    )
    if row is None:
        return None
    return Circuit(
        state=cast("State", row["state"]), failures=row["failures"], down_since=row["down_since"]
    )


async def has_deferred(conn: Conn, connector: str) -> bool:
    """Whether deliveries to `connector` are waiting in the backlog."""
    return bool(
        await conn.fetchval("SELECT 1 FROM deferred WHERE connector = $1 LIMIT 1", connector)
    )


async def save_circuit(conn: Conn, connector: str, circuit: Circuit, now: datetime) -> None:
    """Record the circuit's state and, in the same transaction, open (the circuit is open) or end
    (it is closed) the connector's outage: the contingency rule reads the outages."""
    c = circuit
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO connector_health (connector, state, failures, down_since,"
            " last_success, last_failure, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (connector) DO UPDATE SET state = $2, failures = $3, down_since = $4,"
            " last_success = coalesce($5, connector_health.last_success),"
            " last_failure = coalesce($6, connector_health.last_failure), updated_at = $7",
            connector,
            c.state,
            c.failures,
            c.down_since,
            c.last_success,
            c.last_failure,
            now,
        )
        if c.state == "open":
            await conn.execute(
                "INSERT INTO outages (connector, started_at) VALUES ($1, $2)"
                " ON CONFLICT (connector) WHERE ended_at IS NULL DO NOTHING",
                connector,
                c.down_since or now,
            )
        else:
            await conn.execute(
                "UPDATE outages SET ended_at = $2 WHERE connector = $1 AND ended_at IS NULL",
                connector,
                now,
            )


def _drain_lock_id(connector: str) -> int:
    return _DRAIN_LOCK_BASE + ("court", "setarim", "custodial_unit", "bnmp").index(connector)


async def try_lock_drain(conn: Conn, connector: str) -> bool:
    """Take the session's advisory lock on draining `connector`, unless another session holds it:
    one drainer per connector across hub processes, so the backlog is delivered once, in order."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", _drain_lock_id(connector)))


async def unlock_drain(conn: Conn, connector: str) -> None:
    """Give back the lock `try_lock_drain` took (on the same connection)."""
    await conn.execute("SELECT pg_advisory_unlock($1)", _drain_lock_id(connector))


async def oldest_deferred(conn: Conn, connector: str) -> list[DeferredRow]:
    """The next page (200) of `connector`'s backlog, in the order its deliveries are to be made
    (the document's time, then arrival)."""
    rows = await conn.fetch(
        "SELECT seq, queue, message_id, body, headers FROM deferred"
        " WHERE connector = $1 ORDER BY sort_at, seq LIMIT 200",
        connector,
    )
    return [_deferred_row(r) for r in rows]


def _deferred_row(r: Any) -> DeferredRow:
    headers = r["headers"] if isinstance(r["headers"], dict) else json.loads(r["headers"])
    return DeferredRow(r["seq"], r["queue"], r["message_id"], bytes(r["body"]), headers)
