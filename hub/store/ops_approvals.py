"""SQL of the ops service for four-eyes approvals: requests, decisions, outcomes (no decisions).

An approval holds what will run when a second admin approves it: an edit-and-replay (the dead
letter and the edited body) or a bulk replay (the filter and the dead letters fixed when it was
requested). `hub.ops.approvals` decides who may decide and runs the action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from hub.store.pool import Conn

__all__ = [
    "APPROVAL_COLUMNS",
    "Approval",
    "PendingBulkExists",
    "add_approval",
    "decide",
    "get_approval",
    "list_approvals",
    "set_outcome",
]


class PendingBulkExists(LookupError):
    """A bulk replay of the same filter already waits for approval."""


@dataclass(frozen=True)
class Approval:
    """A request for a second admin's approval, as stored (without the edited body)."""

    id: int
    action: str
    state: str
    requested_at: datetime
    requested_by: str
    requester_role: str
    request_reason: str
    subject: str | None
    dead_letter_id: int | None
    changes: Sequence[Mapping[str, Any]]
    selection: Mapping[str, Any] | None
    letter_ids: Sequence[int]
    rate_per_s: float | None
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    outcome: Mapping[str, Any] | None


APPROVAL_COLUMNS: Final = (
    "id, action, state, requested_at, requested_by, requester_role, request_reason, subject,"
    " dead_letter_id, changes, selection, letter_ids, rate_per_s, decided_at, decided_by,"
    " decision_reason, outcome"
)


async def add_approval(
    conn: Conn,
    *,
    action: str,
    now: datetime,
    by: str,
    role: str,
    reason: str,
    subject: str | None = None,
    dead_letter_id: int | None = None,
    edited_body: bytes | None = None,
    changes: Sequence[Mapping[str, Any]] = (),
    selection: Mapping[str, Any] | None = None,
    selection_key: str | None = None,
    letter_ids: Sequence[int] = (),
    rate_per_s: float | None = None,
) -> int:
    """Record a pending request; return its id (PendingBulkExists: that filter already waits)."""
    try:
        found = await conn.fetchval(
            "INSERT INTO ops_approvals (action, requested_at, requested_by, requester_role,"
            " request_reason, subject, dead_letter_id, edited_body, changes, selection,"
            " selection_key, letter_ids, rate_per_s)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::bigint[], $13)"
            " RETURNING id",
            action,
            now,
            by,
            role,
            reason,
            subject,
            dead_letter_id,
            edited_body,
            list(changes),
            dict(selection) if selection is not None else None,
            selection_key,
            list(letter_ids),
            rate_per_s,
        )
    except asyncpg.UniqueViolationError:
        raise PendingBulkExists(selection_key) from None
    return int(found)


async def get_approval(
    conn: Conn, approval_id: int, *, lock: bool = False
) -> tuple[Approval, bytes | None] | None:
    """One request and its edited body (None for a bulk one); locked for update if asked."""
    row = await conn.fetchrow(
        f"SELECT {APPROVAL_COLUMNS}, edited_body FROM ops_approvals WHERE id = $1"
        + (" FOR UPDATE" if lock else ""),
        approval_id,
    )
    if row is None:
        return None
    values = dict(row)
    body = values.pop("edited_body")
    return Approval(**values), bytes(body) if body is not None else None


async def list_approvals(conn: Conn, state: str | None, limit: int) -> list[Approval]:
    """The latest requests (in `state` if given), newest first."""
    rows = await conn.fetch(
        f"SELECT {APPROVAL_COLUMNS} FROM ops_approvals WHERE ($1::text IS NULL OR state = $1)"
        " ORDER BY id DESC LIMIT $2",
        state,
        limit,
    )
    return [Approval(**dict(r)) for r in rows]


async def decide(
    conn: Conn, approval_id: int, state: str, by: str | None, reason: str | None, now: datetime
) -> None:
    """Close a pending request: approved, rejected or expired (by whom and why)."""
    await conn.execute(
        "UPDATE ops_approvals SET state = $2, decided_by = $3, decision_reason = $4,"
        " decided_at = $5 WHERE id = $1",
        approval_id,
        state,
        by,
        reason,
        now,
    )


async def set_outcome(conn: Conn, approval_id: int, outcome: Mapping[str, Any]) -> None:
    """What the approved action did (a replay's answer, or the bulk job started)."""
    await conn.execute(
        "UPDATE ops_approvals SET outcome = $2 WHERE id = $1", approval_id, dict(outcome)
    )
