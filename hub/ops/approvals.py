"""Four eyes on operators' dangerous actions: one person asks, a second admin approves or rejects.

Two actions wait for a second admin: every edit-and-replay (an admin asks), and a bulk replay of
more than `ops.approval_above` dead letters (an operator or an admin asks). The request records who
asked, why and what would run: the edited body (checked at once, so a refusal is known before
anyone is asked), or the dead letters the filter held then. Another admin — never the one who
asked — approves or rejects it with a reason within `ops.approval_ttl_s`; an approved edit is
checked again and replayed in the same transaction as the decision, an approved bulk replay's job
is created in it (and then started). The audit has both: `approval.requested` by the one who
asked, `approval.approved` / `approval.rejected` by the one who decided (with the request's names
and reasons), and the action's own entry (`dead_letter.edited_and_replayed`,
`dead_letter.bulk_replay_started`) names both people and both reasons.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

import asyncpg

from hub.clock import Clock
from hub.domain.audit import AuditEntry
from hub.ops.actions import ActionResult, Actions
from hub.ops.auth import Principal, Role
from hub.ops.bulk import BulkReplays, NothingToReplay
from hub.ops.models import ApprovalChange, ApprovalView, JsonObject
from hub.ops.search import DeadLetterFilter, selection_key
from hub.ops.views import HIDDEN, shown_body
from hub.settings import OpsSettings
from hub.store import audit_repo, ops_approvals
from hub.store.ops_approvals import Approval, PendingBulkExists
from hub.store.pool import Conn

__all__ = [
    "ApprovalClosed",
    "ApprovalNotFound",
    "Approvals",
    "BulkStart",
    "Decided",
    "OwnRequest",
    "PendingBulkExists",
    "edit_changes",
    "needs_approval",
    "refusal",
    "requester",
    "view",
]


class ApprovalNotFound(LookupError):
    """No request has this id."""


class ApprovalClosed(ValueError):
    """The request was already decided, or expired."""


class OwnRequest(PermissionError):
    """An admin may not approve or reject their own request."""


# ---------------------------------------------------------------- the rules (pure)


def needs_approval(count: int, above: int) -> bool:
    """Whether a bulk replay of `count` dead letters waits for a second admin."""
    return count > above


Refusal = Literal["not_admin", "closed", "own", "expired"]


def refusal(approval: Approval, who: Principal, now: datetime, ttl_s: float) -> Refusal | None:
    """Why `who` may not decide `approval` now, or None: only an admin decides, never on their own
    request, and only a pending request that has not outlived `ttl_s`."""
    if not who.may(Role.ADMIN):
        return "not_admin"
    if approval.state != "pending":
        return "closed"
    if who.actor == approval.requested_by:
        return "own"
    if (now - approval.requested_at).total_seconds() > ttl_s:
        return "expired"
    return None


def requester(approval: Approval) -> Principal:
    """The person who asked, as the action runs under their name."""
    user = approval.requested_by.removeprefix("ops:")
    return Principal(user, Role.named(approval.requester_role))


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _at(doc: object, path: str) -> object:
    """The value at a dotted path (`payload.items[0].x`), or None when absent."""
    for name, index in _STEP.findall(path):
        if name:
            doc = doc.get(name) if isinstance(doc, dict) else None
        else:
            position = int(index)
            doc = doc[position] if isinstance(doc, list) and position < len(doc) else None
    return doc


def edit_changes(original: bytes, edited: bytes, paths: Sequence[str]) -> list[JsonObject]:
    """Each changed path with its value before and after, as the allowlist shows them (a value
    the allowlist withholds is shown as hidden): what the approving admin reads."""
    before, after = shown_body(original).content, shown_body(edited).content
    raw_before, raw_after = _json(original), _json(edited)
    out: list[JsonObject] = []
    for path in paths:
        old = _at(before, path)
        new = _at(after, path)
        old = HIDDEN if old is None and _at(raw_before, path) is not None else old
        new = HIDDEN if new is None and _at(raw_after, path) is not None else new
        out.append({"path": path, "before": cast("Any", old), "after": cast("Any", new)})
    return out


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def view(approval: Approval) -> ApprovalView:
    """The API's shape of a request."""
    return ApprovalView(
        id=approval.id,
        action=cast("Any", approval.action),
        state=cast("Any", approval.state),
        requested_at=approval.requested_at,
        requested_by=approval.requested_by,
        requester_role=approval.requester_role,
        request_reason=approval.request_reason,
        subject=approval.subject,
        dead_letter_id=approval.dead_letter_id,
        changes=[ApprovalChange.model_validate(c) for c in approval.changes],
        selection=cast("Any", approval.selection),
        count=len(approval.letter_ids) or (1 if approval.dead_letter_id else 0),
        rate_per_s=approval.rate_per_s,
        decided_at=approval.decided_at,
        decided_by=approval.decided_by,
        decision_reason=approval.decision_reason,
        outcome=cast("Any", approval.outcome),
    )


# ---------------------------------------------------------------- the shell


@dataclass(frozen=True)
class BulkStart:
    """A bulk replay started (`job_id`), or waiting for a second admin (`approval_id`)."""

    job_id: int | None
    approval_id: int | None


@dataclass(frozen=True)
class Decided:
    """A decision, and what the approved action did: a replay's result or the job it created
    (the caller starts it under `runner`'s name)."""

    approval: Approval
    replay: ActionResult | None = None
    job_id: int | None = None
    runner: Principal | None = None


class Approvals:
    """Requests, decisions, and running what was approved (see the module docstring)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        actions: Actions,
        bulk: BulkReplays,
        clock: Clock,
        settings: OpsSettings,
    ) -> None:
        self._pool = pool
        self._actions = actions
        self._bulk = bulk
        self._clock = clock
        self._settings = settings

    async def request_edit(
        self, letter_id: int, who: Principal, reason: str, edited: str
    ) -> Approval | ActionResult:
        """Ask a second admin to approve an edit-and-replay; a refusal now is returned (and
        audited) instead. LetterNotFound when there is no such dead letter."""
        checked = await self._actions.check_edit(letter_id, who, reason, edited)
        if isinstance(checked, ActionResult):
            return checked
        row, edit = checked.row, checked.edit
        changes = edit_changes(bytes(row.body), edit.body, edit.changed)
        async with self._pool.acquire() as conn, conn.transaction():
            approval_id = await ops_approvals.add_approval(
                conn,
                action="edit_replay",
                now=self._clock(),
                by=who.actor,
                role=who.role.label,
                reason=reason,
                subject=row.correlation_id,
                dead_letter_id=row.id,
                edited_body=edited.encode(),
                changes=changes,
            )
            detail = {"id": row.id, "edited_paths": list(edit.changed)}
            await self._requested(conn, approval_id, "edit_replay", who, reason, row, detail)
            return await self._get(conn, approval_id)

    async def start_bulk(
        self, selection: DeadLetterFilter, who: Principal, reason: str, rate: float | None
    ) -> BulkStart:
        """Create a bulk replay job, or, above `approval_above` dead letters, ask a second admin
        (NothingToReplay, FilterBusy, PendingBulkExists when it cannot be either)."""
        ids = await self._bulk.matching(selection)
        if not ids:
            raise NothingToReplay("no parked dead letter matches")
        if not needs_approval(len(ids), self._settings.approval_above):
            return BulkStart(await self._bulk.create(selection, who, reason, rate), None)
        parked = selection.model_copy(update={"status": "parked"})
        chosen = parked.model_dump(mode="json", exclude_defaults=True)
        async with self._pool.acquire() as conn, conn.transaction():
            approval_id = await ops_approvals.add_approval(
                conn,
                action="bulk_replay",
                now=self._clock(),
                by=who.actor,
                role=who.role.label,
                reason=reason,
                selection=chosen,
                selection_key=selection_key(parked),
                letter_ids=ids,
                rate_per_s=rate,
            )
            detail = {"count": len(ids), "selection": chosen}
            await self._requested(conn, approval_id, "bulk_replay", who, reason, None, detail)
        return BulkStart(None, approval_id)

    async def decide(
        self, approval_id: int, who: Principal, reason: str, *, approve: bool
    ) -> Decided:
        """Approve (and run) or reject a request. ApprovalNotFound, OwnRequest, ApprovalClosed
        (decided or expired: an expired one is closed as such), FilterBusy (approve again once
        the running job of that filter ends)."""
        now = self._clock()
        async with self._pool.acquire() as conn, conn.transaction():
            found = await ops_approvals.get_approval(conn, approval_id, lock=True)
            if found is None:
                raise ApprovalNotFound(approval_id)
            approval, body = found
            why_not = refusal(approval, who, now, self._settings.approval_ttl_s)
            if why_not == "expired":
                await ops_approvals.decide(conn, approval_id, "expired", None, None, now)
                await self._decision(conn, approval, who, reason, "approval.expired")
            elif why_not == "own":
                raise OwnRequest("an admin may not decide their own request: ask another admin")
            elif why_not is not None:
                raise ApprovalClosed(f"request {approval_id} is {approval.state}")
            else:
                state = "approved" if approve else "rejected"
                await ops_approvals.decide(conn, approval_id, state, who.actor, reason, now)
                await self._decision(conn, approval, who, reason, f"approval.{state}")
                return (
                    await self._run(conn, approval, body, who, reason)
                    if approve
                    else (Decided(await self._get(conn, approval_id)))
                )
        raise ApprovalClosed(f"request {approval_id} expired before it was decided")

    async def list(self, state: str | None = None, limit: int = 100) -> list[Approval]:
        """The latest requests, newest first."""
        async with self._pool.acquire() as conn:
            return await ops_approvals.list_approvals(conn, state, limit)

    async def get(self, approval_id: int) -> Approval | None:
        """One request."""
        async with self._pool.acquire() as conn:
            found = await ops_approvals.get_approval(conn, approval_id)
        return found[0] if found else None

    async def _run(
        self, conn: Conn, approval: Approval, body: bytes | None, who: Principal, reason: str
    ) -> Decided:
        note = {
            "approval": approval.id,
            "requested_by": approval.requested_by,
            "request_reason": approval.request_reason,
            "approved_by": who.actor,
            "approval_reason": reason,
        }
        runner = requester(approval)
        if approval.action == "edit_replay":
            assert approval.dead_letter_id is not None  # an edit's request has both
            assert body is not None
            result = await self._actions.replay_in(
                conn,
                approval.dead_letter_id,
                runner,
                approval.request_reason,
                edited=body.decode(),
                approval=note,
            )
            outcome = {"replayed": result.done, "code": result.code, "why": result.why,
                       "message_id": result.message_id}  # fmt: skip
            await ops_approvals.set_outcome(conn, approval.id, outcome)
            return Decided(await self._get(conn, approval.id), replay=result, runner=runner)
        selection = DeadLetterFilter.model_validate(approval.selection or {})
        try:
            job_id = await self._bulk.create_in(
                conn,
                selection,
                runner,
                approval.request_reason,
                approval.rate_per_s,
                only=approval.letter_ids,
                approval=note,
            )
        except NothingToReplay as e:
            await ops_approvals.set_outcome(conn, approval.id, {"code": "nothing", "why": str(e)})
            return Decided(await self._get(conn, approval.id), runner=runner)
        await ops_approvals.set_outcome(conn, approval.id, {"job": job_id})
        return Decided(await self._get(conn, approval.id), job_id=job_id, runner=runner)

    async def _get(self, conn: Conn, approval_id: int) -> Approval:
        found = await ops_approvals.get_approval(conn, approval_id)
        assert found is not None  # read in the transaction that wrote it
        return found[0]

    async def _requested(
        self,
        conn: Conn,
        approval_id: int,
        action: str,
        who: Principal,
        reason: str,
        row: object,
        more: Mapping[str, object],
    ) -> None:
        subject = getattr(row, "correlation_id", None) or "-"
        detail = {"approval": approval_id, "action": action, "reason": reason,
                  "role": who.role.label, **more}  # fmt: skip
        entry = AuditEntry(self._clock(), who.actor, "approval.requested", subject, detail)
        await audit_repo.append(conn, [entry])

    async def _decision(
        self, conn: Conn, approval: Approval, who: Principal, reason: str, action: str
    ) -> None:
        detail = {
            "approval": approval.id,
            "action": approval.action,
            "requested_by": approval.requested_by,
            "request_reason": approval.request_reason,
            "reason": reason,
            "role": who.role.label,
            **({"id": approval.dead_letter_id} if approval.dead_letter_id else {}),
            **({"count": len(approval.letter_ids)} if approval.letter_ids else {}),
        }
        entry = AuditEntry(self._clock(), who.actor, action, approval.subject or "-", detail)
        await audit_repo.append(conn, [entry])
