"""SQL for the deadline scanner: the open deadlines whose alerts may be due.

A batch opens, satisfies and marks deadlines alerted in its own statement (`hub.store.state_repo`);
the scanner only reads, and submits the alerts it finds to the engine like any other message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.store.pool import Conn

__all__ = ["OpenDeadline", "past_half_time"]


@dataclass(frozen=True)
class OpenDeadline:
    """A deadline not yet satisfied, and the thresholds (percent) already alerted."""

    subject: str
    kind: str
    started_at: datetime
    due_at: datetime
    alerted: tuple[int, ...]


async def past_half_time(conn: Conn, now: datetime, limit: int) -> list[OpenDeadline]:
    """Up to `limit` open deadlines, soonest due first, half of whose time has passed at `now`
    (the first alert threshold) and that still have an alert to raise."""
    rows = await conn.fetch(
        "SELECT subject, kind, started_at, due_at, alerted FROM deadlines"
        " WHERE satisfied_at IS NULL AND started_at + (due_at - started_at) / 2 <= $1"
        " AND cardinality(alerted) < 3 ORDER BY due_at LIMIT $2",
        now,
        limit,
    )
    return [
        OpenDeadline(r["subject"], r["kind"], r["started_at"], r["due_at"], tuple(r["alerted"]))
        for r in rows
    ]
