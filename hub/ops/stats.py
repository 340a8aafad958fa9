"""The dashboard's read-only views, shaped from the store's rows: deadlines, orders, timelines,
connector activity, gauges, the audit log. The SQL is `hub.store.ops_stats`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.ops.models import (
    Acknowledgements,
    AuditLine,
    DeadlineCounts,
    OrderSummary,
    OverdueDeadline,
    SentMessage,
    SubjectDeadline,
    SubjectLetter,
    Timeline,
    TimelineEvent,
    WarrantSummary,
)
from hub.ops.views import audit_event, distribution, sorted_timeline
from hub.store import ops_stats
from hub.store.pool import Conn

__all__ = [
    "Gauges",
    "acknowledgements",
    "gauges",
    "list_orders",
    "nothing_known",
    "recent_audit",
    "timeline",
    "window",
]


async def acknowledgements(
    conn: Conn, now: datetime, *, hide_secret: bool = False
) -> Acknowledgements:
    """Orders by state, deadlines by kind, the overdue ones (without secret documents', if
    `hide_secret`), and how long compliance took."""
    numbers = await ops_stats.deadline_numbers(conn, now, hide_secret=hide_secret)
    overdue = [
        OverdueDeadline(
            subject=d.subject,
            kind=d.kind,
            started_at=d.started_at,
            due_at=d.due_at,
            state=d.state,
            custodial_unit=d.custodial_unit,
            late_s=(now - d.due_at).total_seconds(),
        )
        for d in numbers.overdue
    ]
    return Acknowledgements(
        orders_by_state=numbers.orders_by_state,
        deadlines=[DeadlineCounts.model_validate(k) for k in numbers.kinds],
        overdue=overdue,
        time_to_compliance=distribution(numbers.compliance_s),
    )


async def list_orders(
    conn: Conn, state: str | None, limit: int, *, hide_secret: bool = False
) -> list[OrderSummary]:
    """Release orders (never their documents, which name the person), latest first (without
    secret ones, if `hide_secret`)."""
    found = await ops_stats.list_orders(conn, state, limit, hide_secret=hide_secret)
    return [OrderSummary.model_validate(o) for o in found]


def _deadline_events(deadlines: list[ops_stats.SubjectDeadline]) -> list[TimelineEvent]:
    events = []
    for d in deadlines:
        detail = {"kind": d.kind, "due_at": d.due_at}
        opened = f"{d.kind} deadline opened"
        events.append(TimelineEvent(at=d.started_at, source="hub", label=opened, detail=detail))
        if d.satisfied_at is not None:
            late = d.satisfied_at > d.due_at
            label = f"{d.kind} deadline met" + (" late" if late else "")
            events.append(
                TimelineEvent(at=d.satisfied_at, source="hub", label=label, detail=detail)
            )
    return events


def _delivered(d: ops_stats.Delivery) -> TimelineEvent:
    label = f"{d.kind} delivered to {d.queue}"
    return TimelineEvent(at=d.acked_at, source="hub", label=label, detail={"kind": d.kind})


def nothing_known(subject: str) -> Timeline:
    """The timeline of a subject nothing is known about."""
    return Timeline(
        subject=subject,
        found=False,
        order=None,
        warrant=None,
        deadlines=[],
        dead_letters=[],
        outbox=[],
        events=[],
    )


async def timeline(conn: Conn, subject: str) -> Timeline:
    """An order's or warrant's rows and everything that happened to it, in time order."""
    rows = await ops_stats.subject_rows(conn, subject)
    history = await ops_stats.subject_history(conn, subject)
    events = sorted_timeline(
        (audit_event(r.at, r.actor, r.action, r.detail) for r in history.audit),
        _deadline_events(rows.deadlines),
        [_delivered(d) for d in history.deliveries],
    )
    return Timeline(
        subject=subject,
        found=bool(rows.order or rows.warrant or events),
        order=OrderSummary.model_validate(rows.order) if rows.order else None,
        warrant=WarrantSummary.model_validate(rows.warrant) if rows.warrant else None,
        deadlines=[SubjectDeadline.model_validate(d) for d in rows.deadlines],
        dead_letters=[SubjectLetter.model_validate(d) for d in rows.dead_letters],
        outbox=[SentMessage.model_validate(m) for m in history.sent],
        events=events,
    )


@dataclass(frozen=True)
class Gauges:
    """The numbers the overview and the Prometheus endpoint show besides queue depths."""

    dead_letters: list[tuple[str, str, int]]  # connector, status, count
    deadlines: list[tuple[str, int, int]]  # kind, open, overdue
    orders: list[tuple[str, int]]  # state, count
    outbox_unconfirmed: int
    outbox_oldest_s: float  # age of the oldest unconfirmed outbox row (0 when none)
    replay_jobs_active: int


async def gauges(conn: Conn, now: datetime) -> Gauges:
    """The numbers the Prometheus endpoint exports besides queue depths."""
    rows = await ops_stats.gauges(conn, now)
    oldest = rows.outbox_oldest
    return Gauges(
        dead_letters=rows.dead_letters,
        deadlines=rows.deadlines,
        orders=rows.orders,
        outbox_unconfirmed=rows.outbox_unconfirmed,
        outbox_oldest_s=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        replay_jobs_active=rows.replay_jobs_active,
    )


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
    found = await ops_stats.recent_audit(
        conn, operators_only=operators_only, subject=subject, limit=limit, hide_secret=hide_secret
    )
    return [AuditLine.model_validate(r) for r in found]


def window(now: datetime, minutes: int = 60) -> datetime:
    """The start of the last `minutes` minutes."""
    return now - timedelta(minutes=minutes)
