"""What operators do to dead letters: replay, edit-and-replay, archive, restore (the I/O shell).

Each action runs in one transaction that locks the dead letter (and shares the order or warrant
rows it touches), asks the pure verdict, publishes with confirms, updates the row and appends the
audit entry, so two operators cannot replay the same letter twice and the audit matches the rows.
A refusal is audited too (`dead_letter.replay_refused`), with the operator's reason.

A plain replay keeps the message id, so an inbox that somehow saw it still drops the copy; an
edited copy gets a new id and an `x-hub-edited-from` header naming the original. An edit runs only
once a second admin approved it (`hub.ops.approvals` calls `replay_in` with the approval, whose
names and reasons go into the audit entry); `check_edit` tells the requester at once what would be
refused. A replay to an outbound queue is judged against the outbox's copy of the message.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from uuid import uuid4

import asyncpg

from contracts import ContractError, Envelope
from hub.amqp.publisher import Publisher
from hub.clock import Clock
from hub.domain.audit import AuditEntry
from hub.domain.decide import keys_for
from hub.domain.outgoing import Outgoing
from hub.errors import PublishFailed
from hub.ops.auth import Principal, Role
from hub.ops.edits import EditedMessage, edit_message
from hub.ops.replay import (
    Known,
    OrderFacts,
    SentFacts,
    Verdict,
    WarrantFacts,
    parse_body,
    replay_headers,
    replay_verdict,
)
from hub.store import audit_repo, ops_letters
from hub.store.ops_letters import DeadLetter, LetterRef
from hub.store.pool import Conn

__all__ = ["ActionResult", "Actions", "EditCheck", "LetterNotFound", "StatusChange"]


class LetterNotFound(LookupError):
    """No dead letter has this id."""


@dataclass(frozen=True)
class ActionResult:
    """What a replay did: published (as which message id) or refused/failed, and why."""

    letter_id: int
    done: bool
    code: str
    why: str
    message_id: str | None = None
    failures: int = 0


@dataclass(frozen=True)
class StatusChange:
    """What an archive or restore changed, and what it left alone (and why)."""

    changed: tuple[int, ...]
    skipped: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EditCheck:
    """An edit that would be accepted now: the dead letter and the edited message."""

    row: DeadLetter
    edit: EditedMessage


@dataclass(frozen=True)
class _Plan:
    outgoing: Outgoing
    edit: EditedMessage | None


def _detail(
    row: DeadLetter | LetterRef, who: Principal, reason: str, **more: object
) -> dict[str, object]:
    base: dict[str, object] = {
        "id": row.id,
        "message_id": str(row.message_id) if row.message_id else None,
        "queue": row.queue,
        "kind": row.kind,
        "role": who.role.label,
        "reason": reason,
    }
    return {**base, **{k: v for k, v in more.items() if v is not None}}


async def load_known(conn: Conn, env: Envelope, *, lock: bool = False) -> Known:
    """The rows `env` touches (shared-locked if asked, so a transition waits for the replay)."""
    orders, warrants = keys_for(env)
    rows = await ops_letters.replay_rows(conn, orders, warrants, env.correlation_id, lock=lock)
    return Known(
        orders={o.order_number: OrderFacts(o.state, o.document, o.bnmp_id) for o in rows.orders},
        warrants={w.warrant_number: WarrantFacts(w.state, w.bnmp_id) for w in rows.warrants},
        open_deadlines=rows.open_deadlines,
    )


async def _known(conn: Conn, row: DeadLetter, parsed: object, *, lock: bool = False) -> Known:
    """What the verdict needs: the rows the message touches and, for a letter that failed in an
    outbound queue, the outbox's copy of the message the hub sent."""
    known = await load_known(conn, parsed, lock=lock) if isinstance(parsed, Envelope) else Known()
    if row.queue.endswith(".in") or row.message_id is None:
        return known
    copy = await ops_letters.sent_copy(conn, row.message_id)
    if copy is None:
        return known
    return replace(known, sent=SentFacts(copy.body, frozenset((copy.routing_key, *copy.cc))))


class Actions:
    """Operator actions on dead letters; every one is audited with who and why."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        clock: Clock,
        work_queues: Collection[str],
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._clock = clock
        self._work_queues = frozenset(work_queues)

    async def preview(self, row: DeadLetter) -> Verdict:
        """What a plain replay of this dead letter would be told now (no lock, no audit)."""
        parsed = parse_body(bytes(row.body))
        async with self._pool.acquire() as conn:
            known = await _known(conn, row, parsed)
        return replay_verdict(
            status=row.status,
            queue=row.queue,
            parsed=parsed,
            body=bytes(row.body),
            known=known,
            work_queues=self._work_queues,
        )

    async def replay(
        self, letter_id: int, who: Principal, reason: str, *, job_id: int | None = None
    ) -> ActionResult:
        """Replay one dead letter as it is."""
        async with self._pool.acquire() as conn, conn.transaction():
            return await self.replay_in(conn, letter_id, who, reason, job_id=job_id)

    async def replay_in(
        self,
        conn: Conn,
        letter_id: int,
        who: Principal,
        reason: str,
        *,
        edited: str | None = None,
        job_id: int | None = None,
        approval: Mapping[str, object] | None = None,
    ) -> ActionResult:
        """Replay one dead letter in the caller's transaction: as it is, or an edited copy
        (`edited`: an admin's, approved by another admin, whose `approval` goes to the audit)."""
        row = await ops_letters.get_letter(conn, letter_id, lock=True)
        if row is None:
            raise LetterNotFound(letter_id)
        more = dict(approval or {})
        plan = await self._plan(conn, row, who, edited)
        if isinstance(plan, Verdict):
            return await self._refused(conn, row, who, reason, plan, job_id, more)
        try:
            await self._publisher.publish(plan.outgoing)
        except PublishFailed as e:
            detail = _detail(row, who, reason, why=str(e), job=job_id, **more)
            await self._audit(conn, who, "dead_letter.replay_failed", row, detail)
            return ActionResult(letter_id, False, "publish_failed", str(e))
        return await self._replayed(conn, row, who, reason, plan, job_id, more)

    async def check_edit(
        self, letter_id: int, who: Principal, reason: str, edited: str
    ) -> EditCheck | ActionResult:
        """Whether an edit would be replayed now (a refusal is audited, as a replay's is)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await ops_letters.get_letter(conn, letter_id, lock=True)
            if row is None:
                raise LetterNotFound(letter_id)
            plan = await self._plan(conn, row, who, edited)
            if isinstance(plan, Verdict):
                return await self._refused(conn, row, who, reason, plan, None, {})
            assert plan.edit is not None  # an edit was given
            return EditCheck(row, plan.edit)

    async def _plan(
        self, conn: Conn, row: DeadLetter, who: Principal, edited: str | None
    ) -> _Plan | Verdict:
        parsed: Envelope | ContractError = parse_body(bytes(row.body))
        edit: EditedMessage | None = None
        if edited is not None:
            if not who.may(Role.ADMIN):
                return Verdict(False, "forbidden", "only an admin may edit a message")
            checked = edit_message(bytes(row.body), edited, uuid4())
            if isinstance(checked, Verdict):
                return checked
            edit, parsed = checked, checked.envelope
        verdict = replay_verdict(
            status=row.status,
            queue=row.queue,
            parsed=parsed,
            body=edit.body if edit else bytes(row.body),
            known=await _known(conn, row, parsed, lock=True),
            work_queues=self._work_queues,
        )
        if not verdict.allowed:
            return verdict
        assert isinstance(parsed, Envelope)  # an unparsed body is always refused above
        return _Plan(_outgoing(row, parsed, who, edit), edit)

    async def _refused(
        self,
        conn: Conn,
        row: DeadLetter,
        who: Principal,
        reason: str,
        verdict: Verdict,
        job_id: int | None,
        more: Mapping[str, object],
    ) -> ActionResult:
        await ops_letters.mark_refused(conn, row.id, verdict.code, self._clock())
        detail = _detail(row, who, reason, code=verdict.code, why=verdict.why, job=job_id, **more)
        await self._audit(conn, who, "dead_letter.replay_refused", row, detail)
        return ActionResult(row.id, False, verdict.code, verdict.why, failures=row.failures)

    async def _replayed(
        self,
        conn: Conn,
        row: DeadLetter,
        who: Principal,
        reason: str,
        plan: _Plan,
        job_id: int | None,
        more: Mapping[str, object],
    ) -> ActionResult:
        sent = plan.outgoing.message_id
        await ops_letters.mark_replayed(conn, row.id, who.actor, self._clock(), sent)
        paths = list(plan.edit.changed) if plan.edit else None
        detail = _detail(row, who, reason, replayed_as=sent, edited_paths=paths, job=job_id, **more)
        action = "dead_letter.edited_and_replayed" if plan.edit else "dead_letter.replayed"
        await self._audit(conn, who, action, row, detail)
        why = f"published to {row.queue} as {sent}"
        return ActionResult(row.id, True, "replayed", why, sent, row.failures)

    async def _audit(
        self, conn: Conn, who: Principal, action: str, row: DeadLetter, detail: dict[str, object]
    ) -> None:
        subject = row.correlation_id or "-"
        entry = AuditEntry(self._clock(), who.actor, action, subject, detail)
        await audit_repo.append(conn, [entry])

    async def set_status(
        self, ids: Sequence[int], who: Principal, reason: str, *, restore: bool = False
    ) -> StatusChange:
        """Archive parked dead letters, or restore archived ones to parked; audit each one."""
        before, after = ("archived", "parked") if restore else ("parked", "archived")
        action = "dead_letter.restored" if restore else "dead_letter.archived"
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await ops_letters.lock_letters(conn, ids)
            eligible = [r for r in rows if r.status == before]
            skipped = {r.id: f"it is {r.status}" for r in rows if r.status != before}
            skipped |= dict.fromkeys(set(ids) - {r.id for r in rows}, "no such dead letter")
            now = self._clock()
            await ops_letters.set_status(conn, [r.id for r in eligible], after, who.actor, now)
            entries = [
                AuditEntry(now, who.actor, action, r.correlation_id or "-", _detail(r, who, reason))
                for r in eligible
            ]
            await audit_repo.append(conn, entries)
        return StatusChange(tuple(r.id for r in eligible), skipped)


def _outgoing(
    row: DeadLetter, env: Envelope, who: Principal, edit: EditedMessage | None
) -> Outgoing:
    original = str(row.message_id) if row.message_id else None
    edited_from = (original or f"dead-letter:{row.id}") if edit else None
    message_id = str(edit.envelope.message_id) if edit else original or str(env.message_id)
    headers = replay_headers(row.headers or {}, row.id, who.actor, edited_from=edited_from)
    body = edit.body if edit else bytes(row.body)
    subject = row.correlation_id or env.correlation_id
    return Outgoing(
        exchange="",
        routing_key=row.queue,
        body=body,
        message_id=message_id,
        correlation_id=subject,
        headers=headers,
        kind=env.kind,
    )
