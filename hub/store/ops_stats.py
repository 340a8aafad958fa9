"""SQL behind the dashboard's read-only views: overview numbers and gauges, deadlines, orders, one
subject's rows and history, connector activity and circuits, the audit log (no decisions).

`hub.ops.stats` shapes these rows into what the API returns (time since, distributions, the
timeline's events).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from uuid import UUID

import asyncpg

from hub.store.ops_letters import secret_subject
from hub.store.pool import Conn

__all__ = [
    "AuditLine",
    "Circuit",
    "ConnectorActivity",
    "DeadlineCounts",
    "DeadlineNumbers",
    "Delivery",
    "GaugeRows",
    "OrderSummary",
    "OverdueDeadline",
    "SentMessage",
    "SubjectAudit",
    "SubjectDeadline",
    "SubjectHistory",
    "SubjectLetter",
    "SubjectRows",
    "WarrantSummary",
    "connector_activity",
    "connector_health",
    "deadline_numbers",
    "gauges",
    "is_secret",
    "list_orders",
    "ping",
    "recent_audit",
    "subject_history",
    "subject_rows",
]

_ORDER_SUMMARY: Final = (
    "order_number, process_number, state, custodial_unit, issuing_court, secrecy, contingency,"
    " issued_at, received_at, validated_at, complied_at, released, bnmp_id, version, updated_at"
)


async def ping(db: Conn | asyncpg.Pool) -> bool:
    """Whether PostgreSQL answers a trivial query (errors are the caller's to judge)."""
    return bool(await db.fetchval("SELECT 1"))


# ---------------------------------------------------------------- deadlines and orders


@dataclass(frozen=True)
class DeadlineCounts:
    """One kind of deadline: how many are open, overdue, met, met late."""

    kind: str
    open: int
    overdue: int
    met: int
    met_late: int


@dataclass(frozen=True)
class OverdueDeadline:
    """A deadline past due and not met, with its order's state and unit where it is an order's."""

    subject: str
    kind: str
    started_at: datetime
    due_at: datetime
    state: str | None
    custodial_unit: str | None


@dataclass(frozen=True)
class DeadlineNumbers:
    """Orders by state, deadlines by kind, the overdue ones, and compliance times (seconds)."""

    orders_by_state: dict[str, int]
    kinds: list[DeadlineCounts]
    overdue: list[OverdueDeadline]
    compliance_s: list[float]


async def deadline_numbers(
    conn: Conn, now: datetime, *, hide_secret: bool = False
) -> DeadlineNumbers:
    """Orders by state, deadlines by kind, the first 100 overdue at `now` (without secret
    documents', if `hide_secret`), and how long the last 10,000 compliances took."""
    secret = f" AND NOT {secret_subject('d.subject')}" if hide_secret else ""
    states = await conn.fetch(
        "SELECT state, count(*) AS n FROM release_orders GROUP BY state ORDER BY state"
    )
    kinds = await conn.fetch(
        "SELECT kind, count(*) FILTER (WHERE satisfied_at IS NULL) AS open,"
        " count(*) FILTER (WHERE satisfied_at IS NULL AND due_at < $1) AS overdue,"
        " count(*) FILTER (WHERE satisfied_at IS NOT NULL) AS met,"
        " count(*) FILTER (WHERE satisfied_at > due_at) AS met_late"
        " FROM deadlines GROUP BY kind ORDER BY kind",
        now,
    )
    overdue = await conn.fetch(
        "SELECT d.subject, d.kind, d.started_at, d.due_at, o.state, o.custodial_unit"
        " FROM deadlines d LEFT JOIN release_orders o ON o.order_number = d.subject"
        f" WHERE d.satisfied_at IS NULL AND d.due_at < $1{secret} ORDER BY d.due_at LIMIT 100",
        now,
    )
    took = await conn.fetch(
        "SELECT extract(epoch FROM satisfied_at - started_at)::float8 AS s FROM deadlines"
        " WHERE kind = 'compliance' AND satisfied_at IS NOT NULL"
        " ORDER BY satisfied_at DESC LIMIT 10000"
    )
    return DeadlineNumbers(
        orders_by_state={r["state"]: r["n"] for r in states},
        kinds=[DeadlineCounts(**dict(r)) for r in kinds],
        overdue=[OverdueDeadline(**dict(r)) for r in overdue],
        compliance_s=[r["s"] for r in took],
    )


@dataclass(frozen=True)
class OrderSummary:
    """A release order without its document (which names the person)."""

    order_number: str
    process_number: str
    state: str
    custodial_unit: str | None
    issuing_court: str
    secrecy: str
    contingency: bool
    issued_at: datetime
    received_at: datetime | None
    validated_at: datetime | None
    complied_at: datetime | None
    released: bool | None
    bnmp_id: str | None
    version: int
    updated_at: datetime


async def list_orders(
    conn: Conn, state: str | None, limit: int, *, hide_secret: bool = False
) -> list[OrderSummary]:
    """Release orders (never their documents), latest first, in `state` if given (without secret
    ones, if `hide_secret`)."""
    secret = " AND secrecy <> 'secret'" if hide_secret else ""
    rows = await conn.fetch(
        f"SELECT {_ORDER_SUMMARY} FROM release_orders WHERE ($1::text IS NULL OR state = $1)"
        f"{secret} ORDER BY updated_at DESC LIMIT $2",
        state,
        limit,
    )
    return [OrderSummary(**dict(r)) for r in rows]


# ---------------------------------------------------------------- one subject


async def is_secret(conn: Conn, subject: str) -> bool:
    """Whether `subject` is a secret (sigiloso) document's number (R417 art.34)."""
    return bool(await conn.fetchval(f"SELECT {secret_subject('$1::text')}", subject))


@dataclass(frozen=True)
class WarrantSummary:
    """A warrant without its person key."""

    warrant_number: str
    process_number: str
    state: str
    species: str | None
    valid_until: date | None
    issuing_court: str | None
    secrecy: str
    bnmp_id: str | None
    version: int
    updated_at: datetime


@dataclass(frozen=True)
class SubjectDeadline:
    """One deadline of a subject."""

    kind: str
    started_at: datetime
    due_at: datetime
    satisfied_at: datetime | None
    alerted: list[int]


@dataclass(frozen=True)
class SubjectLetter:
    """One dead letter of a subject, as its timeline lists it."""

    id: int
    queue: str
    kind: str | None
    reason: str
    status: str
    failures: int
    first_failed_at: datetime
    last_failed_at: datetime


@dataclass(frozen=True)
class SubjectRows:
    """An order's or warrant's row (the one it is), its deadlines and its dead letters."""

    order: OrderSummary | None
    warrant: WarrantSummary | None
    deadlines: list[SubjectDeadline]
    dead_letters: list[SubjectLetter]


async def subject_rows(conn: Conn, subject: str) -> SubjectRows:
    """The order or warrant numbered `subject`, its deadlines (by start) and dead letters."""
    order = await conn.fetchrow(
        f"SELECT {_ORDER_SUMMARY} FROM release_orders WHERE order_number = $1", subject
    )
    warrant = await conn.fetchrow(
        "SELECT warrant_number, process_number, state, species, valid_until, issuing_court,"
        " secrecy, bnmp_id, version, updated_at FROM warrants WHERE warrant_number = $1",
        subject,
    )
    deadlines = await conn.fetch(
        "SELECT kind, started_at, due_at, satisfied_at, alerted FROM deadlines"
        " WHERE subject = $1 ORDER BY started_at, kind",
        subject,
    )
    letters = await conn.fetch(
        "SELECT id, queue, kind, reason, status, failures, first_failed_at, last_failed_at"
        " FROM dead_letters WHERE correlation_id = $1 ORDER BY id",
        subject,
    )
    return SubjectRows(
        order=OrderSummary(**dict(order)) if order else None,
        warrant=WarrantSummary(**dict(warrant)) if warrant else None,
        deadlines=[SubjectDeadline(**dict(r)) for r in deadlines],
        dead_letters=[SubjectLetter(**dict(r)) for r in letters],
    )


@dataclass(frozen=True)
class SubjectAudit:
    """One audit entry of a subject."""

    seq: int
    at: datetime
    actor: str
    action: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class SentMessage:
    """One outbox message about a subject: sent once to its routing key and its `cc` queues."""

    message_id: UUID
    routing_key: str
    cc: list[str]
    kind: str
    created_at: datetime
    confirmed_at: datetime | None


@dataclass(frozen=True)
class Delivery:
    """A hub consumer delivered one outbox message from `queue` (the technical acknowledgement)."""

    queue: str
    acked_at: datetime
    kind: str


@dataclass(frozen=True)
class SubjectHistory:
    """What happened to a subject: audit entries, messages sent, deliveries made (1,000 each)."""

    audit: list[SubjectAudit]
    sent: list[SentMessage]
    deliveries: list[Delivery]


async def subject_history(conn: Conn, subject: str) -> SubjectHistory:
    """A subject's audit entries (by seq), outbox messages (by id) and deliveries (by time)."""
    audit = await conn.fetch(
        "SELECT seq, at, actor, action, detail FROM audit_log WHERE subject = $1"
        " ORDER BY seq LIMIT 1000",
        subject,
    )
    sent = await conn.fetch(
        "SELECT message_id, routing_key, cc, kind, created_at, confirmed_at FROM outbox"
        " WHERE correlation_id = $1 ORDER BY id LIMIT 1000",
        subject,
    )
    acks = await conn.fetch(
        "SELECT a.queue, a.acked_at, o.kind FROM outbox_acks a JOIN outbox o USING (message_id)"
        " WHERE o.correlation_id = $1 AND a.acked_at IS NOT NULL ORDER BY a.acked_at LIMIT 1000",
        subject,
    )
    return SubjectHistory(
        audit=[SubjectAudit(**dict(r)) for r in audit],
        sent=[SentMessage(**dict(r)) for r in sent],
        deliveries=[Delivery(**dict(r)) for r in acks],
    )


# ---------------------------------------------------------------- connectors


@dataclass(frozen=True)
class ConnectorActivity:
    """A connector since some time: messages its consumers processed, its dead letters."""

    processed: int = 0
    last_processed: datetime | None = None
    dead_lettered: int = 0
    parked: int = 0


async def connector_activity(conn: Conn, since: datetime) -> dict[str, ConnectorActivity]:
    """Per connector since `since`: messages processed (and the last), dead letters, and the
    ones parked now; a connector with none of these is absent."""
    done = await conn.fetch(
        "SELECT split_part(consumer, '.', 2) AS connector, count(*) AS n,"
        " max(received_at) AS last FROM inbox WHERE received_at >= $1 AND consumer LIKE 'hub.%'"
        " GROUP BY 1",
        since,
    )
    failed = await conn.fetch(
        "SELECT connector, count(*) FILTER (WHERE last_failed_at >= $1) AS recent,"
        " count(*) FILTER (WHERE status = 'parked') AS parked FROM dead_letters GROUP BY 1",
        since,
    )
    processed = {r["connector"]: (r["n"], r["last"]) for r in done}
    letters = {r["connector"]: (r["recent"], r["parked"]) for r in failed}
    return {
        name: ConnectorActivity(*processed.get(name, (0, None)), *letters.get(name, (0, 0)))
        for name in processed.keys() | letters.keys()
    }


@dataclass(frozen=True)
class Circuit:
    """A connector's circuit breaker and its deferred backlog."""

    connector: str
    state: str
    failures: int
    down_since: datetime | None
    last_success: datetime | None
    last_failure: datetime | None
    deferred: int


async def connector_health(conn: Conn) -> dict[str, Circuit]:
    """The circuit breakers' state and deferred backlog per connector, where the hub keeps them."""
    if not await conn.fetchval("SELECT to_regclass('connector_health') IS NOT NULL"):
        return {}
    rows = await conn.fetch(
        "SELECT h.connector, h.state, h.failures, h.down_since, h.last_success, h.last_failure,"
        " (SELECT count(*) FROM deferred d WHERE d.connector = h.connector) AS deferred"
        " FROM connector_health h"
    )
    return {r["connector"]: Circuit(**dict(r)) for r in rows}


# ---------------------------------------------------------------- gauges and audit


@dataclass(frozen=True)
class GaugeRows:
    """The numbers the overview and the Prometheus gauges show besides queue depths."""

    dead_letters: list[tuple[str, str, int]]  # connector, status, count
    deadlines: list[tuple[str, int, int]]  # kind, open, overdue
    orders: list[tuple[str, int]]  # state, count
    outbox_unconfirmed: int
    outbox_oldest: datetime | None  # the oldest unconfirmed outbox row's creation
    replay_jobs_active: int


async def gauges(conn: Conn, now: datetime) -> GaugeRows:
    """Dead letters by connector and status, open and overdue (at `now`) deadlines by kind, orders
    by state, the unconfirmed outbox, and the replay jobs running."""
    letters = await conn.fetch(
        "SELECT connector, status, count(*) AS n FROM dead_letters GROUP BY 1, 2"
    )
    deadlines = await conn.fetch(
        "SELECT kind, count(*) AS open, count(*) FILTER (WHERE due_at < $1) AS overdue"
        " FROM deadlines WHERE satisfied_at IS NULL GROUP BY kind",
        now,
    )
    orders = await conn.fetch("SELECT state, count(*) AS n FROM release_orders GROUP BY state")
    outbox = await conn.fetchrow(
        "SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE confirmed_at IS NULL"
    )
    jobs = await conn.fetchval(
        "SELECT count(*) FROM replay_jobs WHERE state IN ('canary', 'running')"
    )
    return GaugeRows(
        dead_letters=[(r["connector"], r["status"], r["n"]) for r in letters],
        deadlines=[(r["kind"], r["open"], r["overdue"]) for r in deadlines],
        orders=[(r["state"], r["n"]) for r in orders],
        outbox_unconfirmed=outbox["n"] if outbox else 0,
        outbox_oldest=outbox["oldest"] if outbox else None,
        replay_jobs_active=jobs,
    )


@dataclass(frozen=True)
class AuditLine:
    """One audit entry as the dashboard lists it (without its hashes)."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: Mapping[str, Any]


async def recent_audit(
    conn: Conn,
    *,
    operators_only: bool,
    subject: str | None,
    limit: int,
    hide_secret: bool = False,
) -> list[AuditLine]:
    """The latest audit entries (optionally only operators' actions, or one subject's; without
    secret documents', if `hide_secret`)."""
    # Literal predicates, so the planner can use the partial and subject indexes.
    who = " AND actor LIKE 'ops:%'" if operators_only else ""
    if hide_secret:
        who += f" AND NOT {secret_subject('audit_log.subject')}"
    args: Sequence[object] = [limit]
    sql = f"WHERE TRUE{who}"
    if subject is not None:
        sql, args = f"WHERE subject = $2{who}", [limit, subject]
    rows = await conn.fetch(
        f"SELECT seq, at, actor, action, subject, detail FROM audit_log {sql}"
        " ORDER BY seq DESC LIMIT $1",
        *args,
    )
    return [AuditLine(**dict(r)) for r in rows]
