"""Dead letters: the DLQ consumer parks each message in PostgreSQL, with what operators need.

A message reaches a connector's DLQ two ways: the hub put it there with `x-hub-error-*` headers (a
permanent error, a contract violation, or a spent retry ladder), or the broker did (the quorum
queue's delivery limit, a reject), and then `x-death` says why. Either way it is parked once per
(message id, failed queue); a repeat failure of the same message counts up on the same row.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import structlog
from faststream.exceptions import NackMessage
from faststream.rabbit import RabbitMessage
from tenacity import AsyncRetrying, stop_after_delay, wait_exponential

from hub.clock import Clock
from hub.domain.audit import AuditEntry
from hub.domain.retry import ATTEMPT_HEADER, attempts_from
from hub.domain.sender import arrive
from hub.domain.topology import Connector
from hub.pipeline.consumer import ACTOR_HEADER
from hub.store import audit_repo, dead_letters_repo
from hub.store.dead_letters_repo import Parked

__all__ = ["Parked", "consume_dead_letter", "park", "parked_from"]

log = structlog.get_logger("hub.deadletter")

_PARK_PATIENCE_S = 30.0


def _peek(body: bytes, key: str, fallback: str | None) -> str | None:
    """A short string field of the body's JSON, when the body has one (it may be anything)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return fallback
    value = doc.get(key) if isinstance(doc, dict) else None
    return value if isinstance(value, str) and len(value) < 100 else fallback


def _broker_death(headers: dict[str, Any]) -> tuple[str, str]:
    reason = str(headers.get("x-first-death-reason", "unknown"))
    queue = str(headers.get("x-first-death-queue", "unknown"))
    return f"broker_{reason}", queue


def parked_from(
    connector: str,
    body: bytes,
    headers: Mapping[str, Any],
    message_id: str | None,
    correlation_id: str | None,
    message_type: str | None,
    *,
    user_id: str | None = None,
    hub_logins: Collection[str] = (),
) -> Parked:
    """Build the stored form of a dead letter from the message as it arrived in the DLQ (pure).

    The hub's own dead letters (`user_id` one of `hub_logins`) say why in their `x-hub-error-*`
    headers and carry their sender. Any other message was dead-lettered by the broker straight
    from a work queue (a poison message at its delivery limit): its `x-hub-*` headers are the
    sender's and are dropped (`hub.domain.sender`), and its sender is recorded by its login alone
    (the `user_id` the broker checked). Not by an exchange read from `x-death`: the broker keeps a
    sender's own `x-death` entry when it matches the queue and reason and only counts it up, so
    that exchange could be another unit's. A unit that published without `user_id` has no proven
    sender here: a replay of it is refused `wrong_sender`, and the unit sends it again. The
    reason and queue (`x-first-death-*`) are labels for the operator, which a sender could have
    set too; they grant nothing.

    Total: whatever the sender put in the message, the record can be stored (PostgreSQL's text
    and jsonb refuse the NUL character: it becomes U+FFFD; an id that is no UUID is kept only in
    the headers), so a dead letter never loops between its queue and a failing insert.
    """
    headers = arrive(headers, user_id, None, hub_logins).headers
    clean = _storable({k: v for k, v in headers.items() if not k.startswith("x-death")})
    if message_id is not None and not _is_uuid(message_id):
        clean["x-hub-original-message-id"] = _storable(message_id)
        message_id = None
    if "x-hub-error-reason" in headers:
        reason = str(headers["x-hub-error-reason"])
        error_type = str(headers.get("x-hub-error-type", "Unknown"))
        queue = str(headers.get("x-hub-failed-queue", "unknown"))
    else:
        reason, queue = _broker_death(headers)
        error_type = "BrokerDeadLetter"
    return Parked(
        message_id=message_id,
        connector=connector,
        queue=_storable(queue),
        kind=_storable(_peek(body, "kind", message_type)),
        correlation_id=_storable(correlation_id or _peek(body, "correlation_id", None)),
        error_type=_storable(error_type),
        reason=_storable(reason),
        error_message=_storable(str(headers.get("x-hub-error-message", ""))[:1000]),
        trace=_storable(str(headers.get("x-hub-error-trace", ""))),
        body=body,
        headers=json.loads(json.dumps(clean, default=str)),
        attempts=attempts_from(headers.get(ATTEMPT_HEADER)),
    )


T = TypeVar("T")


def _storable(value: T) -> T:
    """`value` with every NUL character in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")  # type: ignore[return-value]
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]  # type: ignore[return-value]
    return value


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


async def park(pool: asyncpg.Pool, p: Parked, now: datetime) -> int:
    """Store (or count again) a dead letter and audit it; return its row id."""
    async with pool.acquire() as conn, conn.transaction():
        stored = await dead_letters_repo.upsert(conn, p, now)
        detail = {
            "id": stored.id,
            "message_id": p.message_id,
            "queue": p.queue,
            "reason": p.reason,
            "kind": p.kind,
            "failures": stored.failures,
        }
        # a refusal is audited in the name of the party the hub authenticated behind the message
        actor = str(p.headers.get(ACTOR_HEADER, "hub"))
        await audit_repo.append(
            conn, [AuditEntry(now, actor, "dead_letter.parked", p.correlation_id or "-", detail)]
        )
        return stored.id


def _minimal(p: Parked, error: BaseException) -> Parked:
    """A record that stores whatever broke the full one out of the way (headers, trace)."""
    return dataclasses.replace(
        p,
        headers={},
        trace="",
        attempts=0,
        error_message=f"{p.error_message} [parking: {type(error).__name__}]",
    )


async def _park_or_minimal(pool: asyncpg.Pool, record: Parked, now: datetime) -> int:
    """Park the full record; if the record itself is the problem, park a minimal one."""
    try:
        return await park(pool, record, now)
    except (OSError, asyncpg.InterfaceError, asyncpg.exceptions.ConnectionDoesNotExistError):
        raise  # the database is away: retry the full record later
    except Exception as e:
        return await park(pool, _minimal(record, e), now)


async def consume_dead_letter(
    pool: asyncpg.Pool,
    clock: Clock,
    connector: Connector,
    message: RabbitMessage,
    hub_logins: Collection[str],
) -> None:
    """Park one DLQ message; while PostgreSQL is away, back off and requeue. Never drop it.

    A message goes back to the DLQ after at most `_PARK_PATIENCE_S` of back-off, so a long outage
    costs no CPU and loses nothing.
    """
    raw = message.raw_message  # not FastStream's properties: it invents ids when they are absent
    record = parked_from(
        connector,
        message.body,
        dict(message.headers),
        raw.message_id,
        raw.correlation_id,
        raw.type,
        user_id=raw.user_id,
        hub_logins=hub_logins,
    )
    retrying = AsyncRetrying(
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_after_delay(_PARK_PATIENCE_S),
        reraise=True,
    )
    try:
        row_id: int = await retrying(_park_or_minimal, pool, record, clock())
    except Exception as e:
        log.error("dead_letter.park_failed", connector=connector, error=type(e).__name__)
        raise NackMessage(requeue=True) from e
    log.info(
        "dead_letter.parked",
        id=row_id,
        connector=connector,
        queue=record.queue,
        reason=record.reason,
        kind=record.kind,
        message_id=record.message_id,
    )
