"""SQL behind the dashboard's read-only views: deadlines, orders, timelines, connectors, gauges."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hub.ops.views import TimelineEvent, audit_event, distribution, sorted_timeline
from hub.store.pool import Conn

__all__ = [
    "acknowledgements",
    "connector_activity",
    "connector_health",
    "gauges",
    "list_orders",
    "recent_audit",
    "timeline",
    "window",
]

_ORDER_SUMMARY = (
    "order_number, process_number, state, custodial_unit, issuing_court, secrecy, contingency,"
    " issued_at, received_at, validated_at, complied_at, released, bnmp_id, version, updated_at"
)


async def acknowledgements(conn: Conn, now: datetime) -> dict[str, Any]:
    """Orders by state, deadlines by kind, the overdue ones, and how long compliance took."""
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
        " WHERE d.satisfied_at IS NULL AND d.due_at < $1 ORDER BY d.due_at LIMIT 100",
        now,
    )
    took = await conn.fetch(
        "SELECT extract(epoch FROM satisfied_at - started_at)::float8 AS s FROM deadlines"
        " WHERE kind = 'compliance' AND satisfied_at IS NOT NULL"
        " ORDER BY satisfied_at DESC LIMIT 10000"
    )
    return {
        "orders_by_state": {r["state"]: r["n"] for r in states},
        "deadlines": [dict(r) for r in kinds],
        "overdue": [{**dict(r), "late_s": (now - r["due_at"]).total_seconds()} for r in overdue],
        "time_to_compliance": distribution(r["s"] for r in took),
    }


async def list_orders(conn: Conn, state: str | None, limit: int) -> list[dict[str, Any]]:
    """Release orders (never their documents, which name the person), latest first."""
    rows = await conn.fetch(
        f"SELECT {_ORDER_SUMMARY} FROM release_orders WHERE ($1::text IS NULL OR state = $1)"
        " ORDER BY updated_at DESC LIMIT $2",
        state,
        limit,
    )
    return [dict(r) for r in rows]


async def _subject_rows(conn: Conn, subject: str) -> dict[str, Any]:
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
    return {
        "order": dict(order) if order else None,
        "warrant": dict(warrant) if warrant else None,
        "deadlines": [dict(r) for r in deadlines],
        "dead_letters": [dict(r) for r in letters],
    }


def _deadline_events(deadlines: list[dict[str, Any]]) -> list[TimelineEvent]:
    events = []
    for d in deadlines:
        detail = {"kind": d["kind"], "due_at": d["due_at"]}
        events.append(TimelineEvent(d["started_at"], "hub", f"{d['kind']} deadline opened", detail))
        if d["satisfied_at"] is not None:
            late = d["satisfied_at"] > d["due_at"]
            label = f"{d['kind']} deadline met" + (" late" if late else "")
            events.append(TimelineEvent(d["satisfied_at"], "hub", label, detail))
    return events


async def timeline(conn: Conn, subject: str) -> dict[str, Any]:
    """An order's or warrant's rows and everything that happened to it, in time order."""
    rows = await _subject_rows(conn, subject)
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
        " WHERE o.correlation_id = $1 ORDER BY a.acked_at LIMIT 1000",
        subject,
    )
    delivered = [
        TimelineEvent(
            r["acked_at"], "hub", f"{r['kind']} delivered to {r['queue']}", {"kind": r["kind"]}
        )
        for r in acks
    ]
    events = sorted_timeline(
        (audit_event(r["at"], r["actor"], r["action"], r["detail"]) for r in audit),
        _deadline_events(rows["deadlines"]),
        delivered,
    )
    outbox = [dict(r) for r in sent]
    found = bool(rows["order"] or rows["warrant"] or events)
    return {"subject": subject, "found": found, **rows, "outbox": outbox, "events": events}


async def connector_activity(conn: Conn, since: datetime) -> dict[str, dict[str, Any]]:
    """Per connector since `since`: messages processed, dead letters, the last success."""
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
    out: dict[str, dict[str, Any]] = {}
    for r in done:
        out.setdefault(r["connector"], {}).update(processed=r["n"], last_processed=r["last"])
    for r in failed:
        out.setdefault(r["connector"], {}).update(dead_lettered=r["recent"], parked=r["parked"])
    return out


async def connector_health(conn: Conn) -> dict[str, dict[str, Any]]:
    """The circuit breakers' state and deferred backlog per connector, where the hub keeps them."""
    if not await conn.fetchval("SELECT to_regclass('connector_health') IS NOT NULL"):
        return {}
    rows = await conn.fetch(
        "SELECT h.connector, h.state, h.failures, h.down_since, h.last_success, h.last_failure,"
        " (SELECT count(*) FROM deferred d WHERE d.connector = h.connector) AS deferred"
        " FROM connector_health h"
    )
    return {r["connector"]: dict(r) for r in rows}


async def gauges(conn: Conn, now: datetime) -> dict[str, Any]:
    """The numbers the Prometheus endpoint exports besides queue depths."""
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
    oldest = outbox["oldest"] if outbox else None
    return {
        "dead_letters": [(r["connector"], r["status"], r["n"]) for r in letters],
        "deadlines": [(r["kind"], r["open"], r["overdue"]) for r in deadlines],
        "orders": [(r["state"], r["n"]) for r in orders],
        "outbox_unconfirmed": outbox["n"] if outbox else 0,
        "outbox_oldest_s": max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        "replay_jobs_active": jobs,
    }


async def recent_audit(
    conn: Conn, *, operators_only: bool, subject: str | None, limit: int
) -> list[dict[str, Any]]:
    """The latest audit entries (optionally only operators' actions, or one subject's)."""
    # Literal predicates, so the planner can use the partial and subject indexes.
    who = " AND actor LIKE 'ops:%'" if operators_only else ""
    args: list[Any] = [limit]
    sql = f"WHERE TRUE{who}"
    if subject is not None:
        sql, args = f"WHERE subject = $2{who}", [limit, subject]
    rows = await conn.fetch(
        f"SELECT seq, at, actor, action, subject, detail FROM audit_log {sql}"
        " ORDER BY seq DESC LIMIT $1",
        *args,
    )
    return [dict(r) for r in rows]


def window(now: datetime, minutes: int = 60) -> datetime:
    """The start of the last `minutes` minutes."""
    return now - timedelta(minutes=minutes)
