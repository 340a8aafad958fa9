"""SQL for the technical acknowledgements per destination (`outbox_acks`), outside the consume path.

The engine opens a row per destination with the outbox row and closes it when the hub's consumer
makes the delivery or a unit answers (`hub.store.state_repo`, in the batch's one statement). Here:
the reconciler's claim of the open rows due a look and its record of what it did, and the numbers
and lists the dashboard shows. Several hub processes reconcile at once: each claims its rows with
`FOR UPDATE SKIP LOCKED` and moves their next look forward before it publishes anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from hub.domain.acks import Pending
from hub.domain.outgoing import Outgoing
from hub.store.pool import Conn

__all__ = [
    "AckCounts",
    "Claimed",
    "Due",
    "Looked",
    "OpenAck",
    "claim_due",
    "counts",
    "open_acks",
    "record",
]


@dataclass(frozen=True)
class Due:
    """An open destination due a look: its message (to publish again), what the decision needs."""

    message_id: UUID
    queue: str
    pending: Pending
    message: Outgoing


@dataclass(frozen=True)
class Claimed:
    """The database's time at the claim, and the rows claimed (locked until the transaction end)."""

    now: datetime
    rows: list[Due]


async def claim_due(conn: Conn, *, shortest_s: float, limit: int) -> Claimed:
    """Lock and read up to `limit` open, unalerted destinations older than `shortest_s` whose next
    look is due, oldest first, skipping those another hub process holds; only messages the broker
    confirmed (an unconfirmed one is the outbox relay's). Whether the hub holds the delivery anyway
    (deferred) or parked it with its reason (a dead letter) comes along. Must run inside the
    caller's transaction."""
    rows = await conn.fetch(
        "SELECT a.message_id, a.queue, a.tries, a.next_at, o.confirmed_at, o.kind,"
        " o.correlation_id, o.exchange, o.body, o.headers,"
        " CASE WHEN EXISTS (SELECT 1 FROM deferred d"
        "   WHERE d.queue = a.queue AND d.message_id = a.message_id) THEN 'deferred'"
        " WHEN EXISTS (SELECT 1 FROM dead_letters l"
        "   WHERE l.message_id = a.message_id AND l.queue = a.queue) THEN 'dead_letter'"
        " END AS held"
        " FROM outbox_acks a JOIN outbox o USING (message_id)"
        " WHERE a.acked_at IS NULL AND a.alerted_at IS NULL"
        " AND a.sent_at <= now() - make_interval(secs => $1)"
        " AND (a.next_at IS NULL OR a.next_at <= now()) AND o.confirmed_at IS NOT NULL"
        " ORDER BY a.sent_at LIMIT $2 FOR UPDATE OF a SKIP LOCKED",
        shortest_s,
        limit,
    )
    now = await conn.fetchval("SELECT now()")
    return Claimed(now, [_due(r) for r in rows])


def _due(r: Any) -> Due:
    pending = Pending(
        queue=r["queue"],
        kind=r["kind"],
        sent_at=r["confirmed_at"],
        tries=r["tries"],
        next_at=r["next_at"],
        held=r["held"],
    )
    message = Outgoing(
        exchange=r["exchange"],
        routing_key=r["queue"],
        body=bytes(r["body"]),
        message_id=str(r["message_id"]),
        correlation_id=r["correlation_id"],
        headers=r["headers"],
        kind=r["kind"],
    )
    return Due(r["message_id"], r["queue"], pending, message)


@dataclass(frozen=True)
class Looked:
    """What one look changes on its row: a try more or not, the next look, or the alert."""

    message_id: UUID
    queue: str
    counted: bool
    next_at: datetime | None
    alerted_at: datetime | None


async def record(conn: Conn, looks: Sequence[Looked]) -> None:
    """Record the reconciler's looks, all in one UPDATE (inside the claim's transaction)."""
    if not looks:
        return
    await conn.execute(
        "UPDATE outbox_acks a SET tries = a.tries + u.tried, next_at = u.next_at,"
        " alerted_at = u.alerted_at"
        " FROM unnest($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[])"
        " AS u(message_id, queue, tried, next_at, alerted_at)"
        " WHERE a.message_id = u.message_id AND a.queue = u.queue",
        [x.message_id for x in looks],
        [x.queue for x in looks],
        [int(x.counted) for x in looks],
        [x.next_at for x in looks],
        [x.alerted_at for x in looks],
    )


# ---------------------------------------------------------------- the dashboard


@dataclass(frozen=True)
class AckCounts:
    """Open destinations by queue role ("hub" or "unit"): open, and alerted (someone must look)."""

    open: Mapping[str, int]
    alerted: Mapping[str, int]
    oldest_open_s: float  # how long ago the oldest open one was sent (0 when none is)


async def counts(conn: Conn) -> AckCounts:
    """How many destinations are open and alerted, by role; how old the oldest open one is."""
    rows = await conn.fetch(
        "SELECT CASE WHEN queue LIKE 'hub.custodial\\_unit.%.out' THEN 'unit' ELSE 'hub' END"
        " AS role,"
        " count(*) FILTER (WHERE alerted_at IS NULL) AS open,"
        " count(*) FILTER (WHERE alerted_at IS NOT NULL) AS alerted,"
        " extract(epoch FROM now() - min(sent_at)) AS oldest_s"
        " FROM outbox_acks WHERE acked_at IS NULL GROUP BY 1"
    )
    return AckCounts(
        open={r["role"]: r["open"] for r in rows},
        alerted={r["role"]: r["alerted"] for r in rows},
        oldest_open_s=max((float(r["oldest_s"]) for r in rows), default=0.0),
    )


@dataclass(frozen=True)
class OpenAck:
    """An unacknowledged destination as the dashboard lists it."""

    message_id: UUID
    queue: str
    kind: str
    subject: str
    sent_at: datetime
    tries: int
    next_at: datetime | None
    alerted_at: datetime | None


async def open_acks(conn: Conn, *, alerted_only: bool, limit: int) -> list[OpenAck]:
    """Unacknowledged destinations, alerted first, then the oldest."""
    only = " AND a.alerted_at IS NOT NULL" if alerted_only else ""
    rows = await conn.fetch(
        "SELECT a.message_id, a.queue, o.kind, o.correlation_id AS subject, a.sent_at, a.tries,"
        " a.next_at, a.alerted_at FROM outbox_acks a JOIN outbox o USING (message_id)"
        f" WHERE a.acked_at IS NULL{only}"
        " ORDER BY a.alerted_at IS NULL, a.sent_at LIMIT $1",
        limit,
    )
    return [OpenAck(**dict(r)) for r in rows]
