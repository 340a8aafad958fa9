"""The outbox relay: publishes what a crash or a broker hiccup left unconfirmed.

The engine publishes its outbox rows right after each commit; the relay only handles rows older than
a grace period (so it does not race the engine in the common case). Several hub processes relay at
once safely: each claims rows with `FOR UPDATE SKIP LOCKED`. A row can still be published twice (the
engine published it but died before recording the confirm); consumers drop the copy by message id
(inbox).
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from hub import metrics
from hub.amqp.flow import BrokerFlow
from hub.amqp.publisher import Publisher
from hub.store import outbox_repo

__all__ = ["relay_once", "run_relay"]

log = structlog.get_logger("hub.outbox")


async def relay_once(
    pool: asyncpg.Pool, publisher: Publisher, *, grace_s: float, limit: int = 500
) -> int:
    """Publish up to `limit` unconfirmed rows older than `grace_s`; return the count confirmed."""
    async with pool.acquire() as conn, conn.transaction():
        messages = await outbox_repo.claim_unconfirmed(conn, grace_s=grace_s, limit=limit)
        if not messages:
            return 0
        results = await publisher.publish_many(messages)
        ok = [m.message_id for m, r in zip(messages, results, strict=True) if r is None]
        await outbox_repo.mark_relayed(conn, ok)
    if len(ok) < len(messages):
        log.warning("outbox.relay_partial", confirmed=len(ok), tried=len(messages))
    return len(ok)


async def run_relay(
    pool: asyncpg.Pool,
    publisher: Publisher,
    *,
    every_s: float,
    grace_s: float,
    flow: BrokerFlow | None = None,
) -> None:
    """Relay for ever, every `every_s` seconds (sooner while there is a backlog); not while the
    broker blocks the hub's connection (`hub.amqp.flow`): nothing could be published then."""
    while True:
        if flow is not None and flow.blocked:
            await flow.wait_open()
        try:
            n = await relay_once(pool, publisher, grace_s=grace_s)
            async with pool.acquire() as conn:
                metrics.OUTBOX_LAG.set(await outbox_repo.unconfirmed_count(conn))
        except Exception as e:  # keep relaying through database or broker outages
            log.warning("outbox.relay_failed", error=type(e).__name__)
            n = 0
        if n == 0:
            await asyncio.sleep(every_s)
