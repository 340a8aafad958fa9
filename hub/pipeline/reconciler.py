"""The reconciler: every destination acknowledges, or someone is told.

Each destination of each message the hub sends has a technical acknowledgement of its own
(`outbox_acks`, opened with the outbox row, closed by the hub's consumer's delivery or the unit's
answer: `hub.domain.acks`). A copy can be lost without anyone noticing: one publish goes to every
queue of a destination set, and `mandatory` returns it only when it reached no queue at all, so a
copy routed to a queue deleted by hand under the running hub just vanishes. The reconciler finds
every destination still open after its window, asks the broker about its queue (`Healer.inspect`),
and does what `hub.domain.acks.reconcile` decides: wait (the hub holds the delivery, or an operator
was told), publish that copy again to that queue alone (same message id: receivers act once per
id), or, after `max_tries` tries, alert: log, count (`hub_acks_alerted_total`), audit
(`delivery.unacknowledged` on the order's or warrant's timeline) and list it on the dashboard.

Each round claims its rows (`FOR UPDATE SKIP LOCKED`: several hub processes reconcile safely),
decides, records the next look and the alerts, and commits before it publishes, so no row lock
is held while the broker is asked to confirm. A process stopping between the commit and the
publish loses one try, not the copy: the next look comes one window later. Nothing runs while the
broker blocks the hub's connection (`hub.amqp.flow`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import structlog

from hub import metrics
from hub.amqp.flow import BrokerFlow
from hub.amqp.heal import Healer
from hub.amqp.publisher import Publisher
from hub.domain.acks import AckPolicy, Look, QueueState, is_unit_queue, reconcile
from hub.domain.audit import AuditEntry
from hub.store import acks_repo, audit_repo
from hub.store.acks_repo import Due, Looked

__all__ = ["Round", "reconcile_once", "run_reconciler"]

log = structlog.get_logger("hub.reconciler")


@dataclass(frozen=True)
class Round:
    """What one round did: rows looked at, copies published again (and how many the broker
    confirmed), destinations alerted."""

    looked: int = 0
    republished: int = 0
    confirmed: int = 0
    alerted: int = 0


async def reconcile_once(
    pool: asyncpg.Pool,
    publisher: Publisher,
    healer: Healer,
    policy: AckPolicy,
    *,
    limit: int = 500,
) -> Round:
    """One round of the reconciler (see the module docstring)."""
    async with pool.acquire() as conn, conn.transaction():
        claimed = await acks_repo.claim_due(
            conn, shortest_s=policy.shortest.total_seconds(), limit=limit
        )
        if not claimed.rows:
            return Round()
        queues = await _inspect(healer, [d.queue for d in claimed.rows if d.pending.held is None])
        looks = [
            (d, reconcile(d.pending, queues.get(d.queue), claimed.now, policy))
            for d in claimed.rows
        ]
        await acks_repo.record(conn, [_looked(d, look, claimed) for d, look in looks])
        alerts = [(d, look) for d, look in looks if look.verdict == "alert"]
        if alerts:
            await audit_repo.append(conn, [_audit(d, look, claimed) for d, look in alerts])
    for d, look in alerts:
        metrics.ACKS_ALERTED.labels(_role(d.queue)).inc()
        log.error(
            "delivery.unacknowledged",
            queue=d.queue,
            kind=d.pending.kind,
            subject=d.message.correlation_id,
            message_id=str(d.message_id),
            tries=d.pending.tries,
            why=look.why,
        )
    again = [d for d, look in looks if look.verdict == "republish"]
    confirmed = await _republish(publisher, again)
    return Round(len(looks), len(again), confirmed, len(alerts))


async def _inspect(healer: Healer, queues: Sequence[str]) -> dict[str, QueueState]:
    """What the broker says of these queues; nothing (every look waits, uncounted) if it cannot
    say just now."""
    if not queues:
        return {}
    try:
        return await healer.inspect(queues)
    except Exception as e:
        log.warning("reconciler.inspect_failed", error=type(e).__name__)
        return {}


def _looked(d: Due, look: Look, claimed: acks_repo.Claimed) -> Looked:
    alerted = claimed.now if look.verdict == "alert" else None
    return Looked(d.message_id, d.queue, look.counted, look.next_at, alerted)


def _audit(d: Due, look: Look, claimed: acks_repo.Claimed) -> AuditEntry:
    detail = {
        "queue": d.queue,
        "kind": d.pending.kind,
        "message_id": str(d.message_id),
        "tries": d.pending.tries,
        "why": look.why,
    }
    subject = d.message.correlation_id or "-"
    return AuditEntry(claimed.now, "hub", "delivery.unacknowledged", subject, detail)


async def _republish(publisher: Publisher, due: Sequence[Due]) -> int:
    """Publish each copy again, to its one queue; return how many the broker confirmed."""
    if not due:
        return 0
    results = await publisher.publish_many([d.message for d in due])
    confirmed = 0
    for d, failure in zip(due, results, strict=True):
        if failure is None:
            confirmed += 1
            metrics.ACKS_REPUBLISHED.labels(_role(d.queue)).inc()
            log.warning(
                "delivery.republished",
                queue=d.queue,
                kind=d.pending.kind,
                subject=d.message.correlation_id,
                message_id=str(d.message_id),
                tries=d.pending.tries + 1,
            )
        else:  # the try is counted: the next look, one window later, tries again or alerts
            log.warning("delivery.republish_failed", queue=d.queue, error=str(failure)[:200])
    return confirmed


def _role(queue: str) -> str:
    return "unit" if is_unit_queue(queue) else "hub"


async def run_reconciler(
    pool: asyncpg.Pool,
    publisher: Publisher,
    healer: Healer,
    flow: BrokerFlow,
    policy: AckPolicy,
    *,
    every_s: float,
    limit: int = 500,
) -> None:
    """Reconcile for ever, every `every_s` seconds (sooner while rows keep coming due)."""
    while True:
        done = Round()
        if not flow.blocked:
            try:
                done = await reconcile_once(pool, publisher, healer, policy, limit=limit)
            except Exception as e:  # keep reconciling through database or broker outages
                log.warning("reconciler.failed", error=type(e).__name__)
        if done.looked < limit:
            await asyncio.sleep(every_s)
