"""SQL for the outbox relay: claim the rows the engine left unconfirmed, and record the relayed.

The engine writes the outbox in a batch's statement (`hub.store.state_repo`) and records the
broker's confirms itself (`state_repo.mark_confirmed`); the relay handles what a crash or a broker
hiccup left behind. Several hub processes relay at once: each claims its rows with `FOR UPDATE SKIP
LOCKED`, so no row is published by two relays at the same time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.domain.outgoing import Outgoing
from hub.store.pool import Conn

__all__ = ["claim_unconfirmed", "mark_relayed", "unconfirmed_count"]


async def claim_unconfirmed(conn: Conn, *, grace_s: float, limit: int) -> list[Outgoing]:
    """Lock and read up to `limit` unconfirmed messages older than `grace_s`, oldest first,
    skipping those another relay holds; must run inside the caller's transaction (the locks
    last until it ends)."""
    rows = await conn.fetch(
        "SELECT message_id, exchange, routing_key, body, headers, kind, correlation_id, cc"
        " FROM outbox WHERE confirmed_at IS NULL"
        " AND created_at < now() - make_interval(secs => $1)"
        " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
        grace_s,
        limit,
    )
    return [_outgoing(r) for r in rows]


async def mark_relayed(conn: Conn, message_ids: Sequence[str]) -> None:
    """The broker confirmed these relayed messages."""
    await conn.execute(
        "UPDATE outbox SET confirmed_at = now() WHERE message_id = ANY($1::uuid[])",
        list(message_ids),
    )


async def unconfirmed_count(conn: Conn) -> int:
    """How many messages the broker has not confirmed yet (the relay's lag)."""
    return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE confirmed_at IS NULL"))


def _outgoing(r: Any) -> Outgoing:
    return Outgoing(
        exchange=r["exchange"],
        routing_key=r["routing_key"],
        body=bytes(r["body"]),
        message_id=str(r["message_id"]),
        correlation_id=r["correlation_id"],
        headers=r["headers"],
        kind=r["kind"],
        cc=tuple(r["cc"]),
    )
