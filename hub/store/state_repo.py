"""SQL for the state a batch reads and writes: inbox, orders, warrants, deadlines, outbox.

A batch costs two statements, whatever its size: `claim_and_load` (claim the inbox, lock and read
the rows its decisions need) and the parts `add_changes` puts into one `Statement` (every write).
Round trips, not rows, are what a batch's time goes to under a light load.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property
from typing import Any, Generic, TypeVar
from uuid import UUID

from hub.domain.acks import DELIVERED, Closing, destinations
from hub.domain.rows import Changes, OrderRow, WarrantRow, deadline_changes
from hub.store.pool import Conn
from hub.store.statement import Statement

Row = TypeVar("Row", OrderRow, WarrantRow)

__all__ = [
    "DECLARED",
    "Loaded",
    "add_changes",
    "claim_and_load",
    "mark_confirmed",
    "seen_in_inbox",
]


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


@dataclass(frozen=True)
class _Table(Generic[Row]):
    """A state table whose columns are the fields of its row dataclass, in order."""

    name: str
    row: type[Row]
    types: Mapping[str, str]  # column -> SQL type, in the row's field order
    updated: tuple[str, ...]  # what an upsert changes; the rest is fixed at insert

    def __post_init__(self) -> None:
        if tuple(self.types) != self.columns:
            raise ValueError(f"{self.name}: types {tuple(self.types)} != fields {self.columns}")

    @property
    def key(self) -> str:
        return self.columns[0]

    @cached_property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self.row))

    def locked(self, param: str, *, also: str = "") -> str:
        """An array (in key order) of the rows whose keys are in `param`, or that match the
        condition `also`, locked FOR UPDATE."""
        where = f"{self.key} = ANY({param})" + (f" OR ({also})" if also else "")
        return (
            f"(SELECT array_agg(r ORDER BY r.{self.key}) FROM (SELECT {', '.join(self.columns)}"
            f" FROM {self.name} WHERE {where} ORDER BY {self.key} FOR UPDATE) r)"
        )

    def upsert(self, stmt: Statement, rows: Iterable[Row], read: Set[str]) -> None:
        """Update the rows whose keys are in `read` (the batch read and locked them); insert the
        others, which the batch read as absent: if another transaction created one since, the
        statement raises `RowsChanged` rather than overwrite it with a decision that did not see
        it (a statement's snapshot is the one it started with, even after waiting for a lock).
        """
        data = [tuple(getattr(r, c) for c in self.columns) for r in rows]
        changes = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.updated)
        stmt.insert(
            self.name,
            self.types,
            [d for d in data if d[0] in read],
            f"ON CONFLICT ({self.key}) DO UPDATE SET {changes}, updated_at = now()",
        )
        new = [d for d in data if d[0] not in read]
        stmt.insert(self.name, self.types, new, "ON CONFLICT DO NOTHING", all_new=True)


_ORDERS = _Table(
    "release_orders",
    OrderRow,
    types={
        "order_number": "text",
        "process_number": "text",
        "state": "text",
        "custodial_unit": "text",
        "issuing_court": "text",
        "secrecy": "text",
        "contingency": "boolean",
        "issued_at": "timestamptz",
        "received_at": "timestamptz",
        "validated_at": "timestamptz",
        "complied_at": "timestamptz",
        "released": "boolean",
        "bnmp_id": "text",
        "document": "jsonb",
        "version": "integer",
        "impediments": "text[]",
    },
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
        "impediments",
    ),
)
_WARRANTS = _Table(
    "warrants",
    WarrantRow,
    types={
        "warrant_number": "text",
        "process_number": "text",
        "person_key": "text",
        "state": "text",
        "species": "text",
        "valid_until": "date",
        "issuing_court": "text",
        "secrecy": "text",
        "bnmp_id": "text",
        "version": "integer",
        "origin": "text",
    },
    updated=("state", "bnmp_id", "version"),
)


@dataclass(frozen=True)
class Loaded:
    """What a batch reads: the inbox keys claimed now, the rows locked, the outages asked for."""

    fresh: set[tuple[str, UUID]]
    orders: dict[str, OrderRow]
    warrants: dict[str, WarrantRow]
    outages: tuple[tuple[datetime, datetime | None], ...]


async def claim_and_load(
    conn: Conn,
    keys: Sequence[tuple[str, UUID]],
    orders: Iterable[str],
    warrants: Iterable[str],
    outages_of: str | None,
) -> Loaded:
    """In one statement: record these (consumer, message id) pairs in the inbox, returning the ones
    not seen before; lock and read these orders, then these warrants (each in key order, missing
    ones absent); and the last week's outages of the connector `outages_of`, if given.

    With the warrants come the other warrants in force of the same persons (a compliance makes the
    person's other pending warrants complied: R417 art.12 sole §), and with the orders the ones
    these warrants impede (a warrant out of force lifts its impediment: S000 art.4 §2).
    """
    person_warrants = (
        "state IN ('pending', 'complied') AND person_key IN"
        " (SELECT person_key FROM warrants WHERE warrant_number = ANY($4::text[]))"
    )
    impeded_orders = "state IN ('impeded', 'ready_impeded') AND impediments && $4::text[]"
    orders_sql = _ORDERS.locked("$3::text[]", also=impeded_orders)
    warrants_sql = _WARRANTS.locked("$4::text[]", also=person_warrants)
    row = await conn.fetchrow(
        "WITH claimed AS (INSERT INTO inbox (consumer, message_id)"
        " SELECT * FROM unnest($1::text[], $2::uuid[]) ON CONFLICT DO NOTHING"
        " RETURNING consumer, message_id)"
        " SELECT (SELECT array_agg(ROW(consumer, message_id)) FROM claimed) AS claimed,"
        f" {orders_sql} AS orders, {warrants_sql} AS warrants,"
        " (SELECT array_agg(ROW(started_at, ended_at) ORDER BY started_at) FROM outages"
        "  WHERE connector = $5 AND (ended_at IS NULL OR ended_at > now() - interval '7 days'))"
        " AS outages",
        [k[0] for k in keys],
        [k[1] for k in keys],
        sorted(set(orders)),
        sorted(set(warrants)),
        outages_of,
    )
    assert row is not None  # a SELECT without FROM returns one row
    return Loaded(
        fresh={(c, m) for c, m in row["claimed"] or ()},
        orders={r[0]: _order(r) for r in row["orders"] or ()},
        warrants={r[0]: WarrantRow(*r) for r in row["warrants"] or ()},
        outages=tuple((start, end) for start, end in row["outages"] or ()),
    )


def _order(record: Sequence[Any]) -> OrderRow:
    """An order row from its record (its impediments, a list from PostgreSQL, as a tuple)."""
    row = OrderRow(*record)
    return dataclasses.replace(row, impediments=tuple(row.impediments or ()))


def add_changes(stmt: Statement, changes: Changes) -> None:
    """Add a batch's writes (all but its audit entries) to `stmt`."""
    _ORDERS.upsert(stmt, changes.orders.values(), changes.read_orders)
    _WARRANTS.upsert(stmt, changes.warrants.values(), changes.read_warrants)
    _add_deadlines(stmt, changes)
    _add_outbox(stmt, changes)
    _add_deliveries(stmt, changes)


_OUTBOX = {
    "message_id": "uuid",
    "exchange": "text",
    "routing_key": "text",
    "body": "bytea",
    "headers": "jsonb",
    "kind": "text",
    "correlation_id": "text",
    "cc": "text[]",
}
_DEFERRED = {
    "connector": "text",
    "queue": "text",
    "message_id": "uuid",
    "body": "bytea",
    "headers": "jsonb",
    "sort_at": "timestamptz",
}
_DEADLINES = {
    "subject": "text",
    "kind": "text",
    "started_at": "timestamptz",
    "due_at": "timestamptz",
    "satisfied_at": "timestamptz",
    "alerted": "integer[]",
}
_KEYS = {"queue": "text", "message_id": "uuid"}  # a delivery, or an inbox claim
_OPENED = {"message_id": "uuid", "queue": "text"}  # a destination, open until acknowledged
_CLOSING = {"queue": "text", "subject": "text", "kinds": "text[]", "by": "text"}
_DEADLINE_CHANGE = {
    "subject": "text",
    "kind": "text",
    "satisfied_at": "timestamptz",
    "add": "integer[]",
}
# The column types declared here, by table: a test checks them against the schema.
DECLARED = {
    "release_orders": _ORDERS.types,
    "warrants": _WARRANTS.types,
    "outbox": _OUTBOX,
    "outbox_acks": {**_KEYS, "acked_by": "text"},
    "deferred": _DEFERRED,
    "deadlines": _DEADLINES,
}


def _add_outbox(stmt: Statement, changes: Changes) -> None:
    rows = [
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
        for m in changes.sends
    ]
    stmt.insert("outbox", _OUTBOX, rows)
    # One open technical acknowledgement per destination (`hub.domain.acks`), in the same statement.
    opened = [d for m in changes.sends for d in destinations(m)]
    stmt.insert("outbox_acks", _OPENED, opened, "ON CONFLICT DO NOTHING")


def _add_deliveries(stmt: Statement, changes: Changes) -> None:
    # The hub's consumer of each queue made these deliveries: the technical acknowledgement, one
    # per destination. Not the broker's confirm of the message: one queue of its set having it
    # does not prove the others do. A delivery of a message sent before acknowledgements were
    # tracked (or by another path) has no open row: it gets a closed one.
    if changes.acks:
        acks = sorted(set(changes.acks))  # one change per row in one statement
        stmt.add(
            "INSERT INTO outbox_acks AS a (queue, message_id, acked_at, acked_by)"
            f" SELECT u.queue, u.message_id, now(), '{DELIVERED}' FROM {stmt.rows(_KEYS, acks)}"
            " ON CONFLICT (message_id, queue) DO UPDATE SET acked_at = EXCLUDED.acked_at,"
            " acked_by = EXCLUDED.acked_by WHERE a.acked_at IS NULL"
        )
    _add_closings(stmt, changes.closes)
    kept = [
        (d.connector, d.queue, d.message_id, d.body, _json_safe(d.headers), d.sort_at)
        for d in changes.defers
    ]
    stmt.insert("deferred", _DEFERRED, kept, "ON CONFLICT (queue, message_id) DO NOTHING")
    if changes.undefers:
        seqs = stmt.param(changes.undefers, "bigint[]")
        stmt.add(f"DELETE FROM deferred WHERE seq = ANY({seqs})")
    if changes.released:
        # Claimed by this transaction's read, given back: their processing failed.
        stmt.add(
            f"DELETE FROM inbox i USING {stmt.rows(_KEYS, changes.released)}"
            " WHERE i.consumer = u.queue AND i.message_id = u.message_id"
        )


def _add_closings(stmt: Statement, closes: Sequence[Closing]) -> None:
    """Close what a unit's answers acknowledge: the open rows of the messages sent to that queue
    about that subject (of those kinds, or all), found through the outbox's subject index."""
    rows = [(c.queue, c.subject, list(c.kinds), c.by) for c in closes]
    if rows:
        stmt.add(
            "UPDATE outbox_acks a SET acked_at = now(), acked_by = u.by"
            f" FROM outbox o, {stmt.rows(_CLOSING, rows)}"
            " WHERE o.correlation_id = u.subject"
            " AND (cardinality(u.kinds) = 0 OR o.kind = ANY(u.kinds))"
            " AND a.message_id = o.message_id AND a.queue = u.queue AND a.acked_at IS NULL"
        )


def _add_deadlines(stmt: Statement, changes: Changes) -> None:
    inserts, updates = deadline_changes(changes.open_deadlines, changes.satisfied, changes.alerted)
    rows = [
        (d.subject, d.kind, d.started_at, d.due_at, c.satisfied_at, list(c.alerted))
        for d, c in inserts
    ]
    # An open deadline keeps its start.
    stmt.insert("deadlines", _DEADLINES, rows, "ON CONFLICT (subject, kind) DO NOTHING")
    if updates:
        values = [(c.subject, c.kind, c.satisfied_at, list(c.alerted)) for c in updates]
        stmt.add(
            "UPDATE deadlines d SET satisfied_at = coalesce(d.satisfied_at, u.satisfied_at),"
            " alerted = ARRAY(SELECT DISTINCT a FROM unnest(d.alerted || u.add) AS a ORDER BY a)"
            f" FROM {stmt.rows(_DEADLINE_CHANGE, values)}"
            " WHERE d.subject = u.subject AND d.kind = u.kind"
        )


async def mark_confirmed(conn: Conn, message_ids: Sequence[str]) -> None:
    """The broker confirmed these messages."""
    if message_ids:
        await conn.execute(
            "UPDATE outbox SET confirmed_at = now() WHERE message_id = ANY($1::uuid[])"
            " AND confirmed_at IS NULL",
            list(message_ids),
        )


def _json_safe(headers: Any) -> dict[str, Any]:
    """AMQP headers as JSON (timestamps and bytes become strings)."""
    return dict(json.loads(json.dumps(dict(headers), default=str)))
