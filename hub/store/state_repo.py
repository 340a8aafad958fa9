"""SQL for the state a batch reads and writes: inbox, orders, warrants, deadlines, outbox.

Every function here is set-oriented: one statement for the whole batch, not one per message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any, Generic, TypeVar
from uuid import UUID

from hub.outgoing import Outgoing
from hub.state import DeadlineRow, Deferred, OrderRow, WarrantRow
from hub.store.pool import Conn

Row = TypeVar("Row", OrderRow, WarrantRow)

__all__ = [
    "claim_inbox",
    "drop_deferred",
    "load_orders",
    "load_outages",
    "load_warrants",
    "mark_acked",
    "mark_alerted",
    "mark_confirmed",
    "release_inbox",
    "satisfy_deadlines",
    "save_deadlines",
    "save_deferred",
    "save_orders",
    "save_outbox",
    "save_warrants",
    "seen_in_inbox",
]


async def claim_inbox(conn: Conn, keys: Sequence[tuple[str, UUID]]) -> set[tuple[str, UUID]]:
    """Record these (consumer, message id) pairs; return the ones not seen before."""
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, message_id)"
        " SELECT * FROM unnest($1::text[], $2::uuid[]) ON CONFLICT DO NOTHING"
        " RETURNING consumer, message_id",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(r["consumer"], r["message_id"]) for r in rows}


async def seen_in_inbox(conn: Conn, keys: Sequence[tuple[str, UUID]]) -> set[tuple[str, UUID]]:
    """Which of these (consumer, message id) pairs the inbox holds (committed)."""
    if not keys:
        return set()
    rows = await conn.fetch(
        "SELECT i.consumer, i.message_id FROM inbox i JOIN unnest($1::text[], $2::uuid[])"
        " AS k(c, m) ON i.consumer = k.c AND i.message_id = k.m",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(r["consumer"], r["message_id"]) for r in rows}


async def release_inbox(conn: Conn, keys: Sequence[tuple[str, UUID]]) -> None:
    """Forget these pairs again (their processing failed inside the same transaction)."""
    if keys:
        await conn.execute(
            "DELETE FROM inbox USING unnest($1::text[], $2::uuid[]) AS k(c, m)"
            " WHERE inbox.consumer = k.c AND inbox.message_id = k.m",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )


@dataclass(frozen=True)
class _Table(Generic[Row]):
    """A state table whose columns are the fields of its row dataclass, in order."""

    name: str
    row: type[Row]
    updated: tuple[str, ...]  # what an upsert changes; the rest is fixed at insert

    @property
    def key(self) -> str:
        return self.columns[0]

    @cached_property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self.row))

    async def load(self, conn: Conn, keys: Iterable[str]) -> dict[str, Row]:
        """Lock and read these rows, in key order (missing ones are absent from the result)."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        rows = await conn.fetch(
            f"SELECT {', '.join(self.columns)} FROM {self.name} WHERE {self.key} = ANY($1)"
            f" ORDER BY {self.key} FOR UPDATE",
            wanted,
        )
        return {r[self.key]: self.row(**dict(r)) for r in rows}

    async def save(self, conn: Conn, rows: Iterable[Row]) -> None:
        """Insert or update these rows."""
        data = [tuple(getattr(r, c) for c in self.columns) for r in rows]
        if not data:
            return
        params = ",".join(f"${i}" for i in range(1, len(self.columns) + 1))
        changes = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.updated)
        await conn.executemany(
            f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES ({params})"
            f" ON CONFLICT ({self.key}) DO UPDATE SET {changes}, updated_at = now()",
            data,
        )


_ORDERS = _Table(
    "release_orders",
    OrderRow,
    updated=(
        "state",
        "custodial_unit",
        "received_at",
        "validated_at",
        "complied_at",
        "released",
        "bnmp_id",
        "contingency",
        "version",
    ),
)
_WARRANTS = _Table("warrants", WarrantRow, updated=("state", "bnmp_id", "version"))


async def load_orders(conn: Conn, numbers: Iterable[str]) -> dict[str, OrderRow]:
    """Lock and read these release orders (missing ones are absent from the result)."""
    return await _ORDERS.load(conn, numbers)


async def save_orders(conn: Conn, rows: Iterable[OrderRow]) -> None:
    """Insert or update these release orders."""
    await _ORDERS.save(conn, rows)


async def load_warrants(conn: Conn, numbers: Iterable[str]) -> dict[str, WarrantRow]:
    """Lock and read these warrants (missing ones are absent from the result)."""
    return await _WARRANTS.load(conn, numbers)


async def save_warrants(conn: Conn, rows: Iterable[WarrantRow]) -> None:
    """Insert or update these warrants."""
    await _WARRANTS.save(conn, rows)


async def save_deadlines(conn: Conn, rows: Iterable[DeadlineRow]) -> None:
    """Open these deadlines (an already open one keeps its start)."""
    data = [(d.subject, d.kind, d.started_at, d.due_at) for d in rows]
    if data:
        await conn.executemany(
            "INSERT INTO deadlines (subject, kind, started_at, due_at) VALUES ($1,$2,$3,$4)"
            " ON CONFLICT (subject, kind) DO NOTHING",
            data,
        )


async def satisfy_deadlines(conn: Conn, done: Iterable[tuple[str, str, Any]]) -> None:
    """Close these (subject, kind, at) deadlines."""
    data = list(done)
    if data:
        await conn.executemany(
            "UPDATE deadlines SET satisfied_at = $3 WHERE subject = $1 AND kind = $2"
            " AND satisfied_at IS NULL",
            data,
        )


async def mark_alerted(conn: Conn, alerted: Iterable[tuple[str, str, int]]) -> None:
    """Record that these (subject, deadline kind, threshold) alerts were raised."""
    data = list(alerted)
    if data:
        await conn.executemany(
            "UPDATE deadlines SET alerted = array_append(alerted, $3)"
            " WHERE subject = $1 AND kind = $2 AND NOT ($3 = ANY(alerted))",
            data,
        )


async def save_outbox(conn: Conn, messages: Sequence[Outgoing]) -> None:
    """Write messages to publish, in the caller's transaction."""
    if messages:
        await conn.copy_records_to_table(
            "outbox",
            records=[
                (
                    UUID(m.message_id),
                    m.exchange,
                    m.routing_key,
                    m.body,
                    dict(m.headers),
                    m.kind,
                    m.correlation_id,
                    list(m.cc),
                )
                for m in messages
            ],
            columns=[
                "message_id",
                "exchange",
                "routing_key",
                "body",
                "headers",
                "kind",
                "correlation_id",
                "cc",
            ],
        )


async def mark_confirmed(conn: Conn, message_ids: Sequence[str]) -> None:
    """The broker confirmed these messages."""
    if message_ids:
        await conn.execute(
            "UPDATE outbox SET confirmed_at = now() WHERE message_id = ANY($1::uuid[])"
            " AND confirmed_at IS NULL",
            list(message_ids),
        )


async def mark_acked(conn: Conn, acks: Sequence[tuple[str, UUID]]) -> None:
    """The hub's consumer of each queue made these (queue, message id) deliveries: the technical
    acknowledgement, one per destination. It does not stand for the broker's confirm of the
    message: one queue of its set having it does not prove the others do."""
    if acks:
        await conn.execute(
            "INSERT INTO outbox_acks (queue, message_id)"
            " SELECT * FROM unnest($1::text[], $2::uuid[]) ON CONFLICT DO NOTHING",
            [q for q, _ in acks],
            [m for _, m in acks],
        )


async def save_deferred(conn: Conn, rows: Sequence[Deferred]) -> None:
    """Keep these deliveries, in this order, until their external system answers again."""
    if rows:
        await conn.executemany(
            "INSERT INTO deferred (connector, queue, message_id, body, headers, sort_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (queue, message_id) DO NOTHING",
            [
                (d.connector, d.queue, d.message_id, d.body, _json_safe(d.headers), d.sort_at)
                for d in rows
            ],
        )


async def drop_deferred(conn: Conn, seqs: Sequence[int]) -> None:
    """These deferred deliveries were made."""
    if seqs:
        await conn.execute("DELETE FROM deferred WHERE seq = ANY($1::bigint[])", list(seqs))


def _json_safe(headers: Any) -> dict[str, Any]:
    """AMQP headers as JSON (timestamps and bytes become strings)."""
    return dict(json.loads(json.dumps(dict(headers), default=str)))


async def load_outages(conn: Conn, connector: str) -> tuple[tuple[Any, Any], ...]:
    """The connector's outages of the last week (start, end or None while it lasts)."""
    rows = await conn.fetch(
        "SELECT started_at, ended_at FROM outages WHERE connector = $1"
        " AND (ended_at IS NULL OR ended_at > now() - interval '7 days') ORDER BY started_at",
        connector,
    )
    return tuple((r["started_at"], r["ended_at"]) for r in rows)
