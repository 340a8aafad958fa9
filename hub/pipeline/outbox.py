"""The outbox relay: publishes what a crash or a broker hiccup left unconfirmed.

The engine publishes its outbox rows right after each commit; the relay only handles rows older than
a grace period (so it does not race the engine in the common case). Several hub processes relay at
once safely: each claims rows with `FOR UPDATE SKIP LOCKED`. A row can still be published twice (the
engine published it but died before recording the confirm); consumers drop the copy by message id
(inbox).
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import structlog

from hub import metrics
from hub.amqp.publisher import Publisher
from hub.domain.outgoing import Outgoing

__all__ = ["relay_once", "run_relay"]

log = structlog.get_logger("hub.outbox")


async def relay_once(
    pool: asyncpg.Pool, publisher: Publisher, *, grace_s: float, limit: int = 500
) -> int:
    """Publish up to `limit` unconfirmed rows older than `grace_s`; return the count confirmed."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT message_id, exchange, routing_key, body, headers, kind, correlation_id, cc"
            " FROM outbox WHERE confirmed_at IS NULL"
            " AND created_at < now() - make_interval(secs => $1)"
            " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
            grace_s,
            limit,
        )
        if not rows:
            return 0
        messages = [_outgoing(r) for r in rows]
        results = await publisher.publish_many(messages)
        ok = [m.message_id for m, r in zip(messages, results, strict=True) if r is None]
        await conn.execute(
            "UPDATE outbox SET confirmed_at = now() WHERE message_id = ANY($1::uuid[])", ok
        )
    if len(ok) < len(messages):
        log.warning("outbox.relay_partial", confirmed=len(ok), tried=len(messages))
    return len(ok)


def _outgoing(r: Any) -> Outgoing:
    return Outgoing(
        exchange=r["exchange"],
        routing_key=r["routing_key"],
        body=bytes(r["body"]),
        message_id=str(r["message_id"]),
        correlation_id=r["correlation_id"],
        headers=r["headers"],
        kind=r["kind"],
        cc=tuple(r["cc"]),
    )


async def run_relay(
    pool: asyncpg.Pool, publisher: Publisher, *, every_s: float, grace_s: float
) -> None:
    """Relay for ever, every `every_s` seconds (sooner while there is a backlog)."""
    while True:
        try:
            n = await relay_once(pool, publisher, grace_s=grace_s)
            lag = await pool.fetchval("SELECT count(*) FROM outbox WHERE confirmed_at IS NULL")
            metrics.OUTBOX_LAG.set(lag)
        except Exception as e:  # keep relaying through database or broker outages
            log.warning("outbox.relay_failed", error=type(e).__name__)
            n = 0
        if n == 0:
            await asyncio.sleep(every_s)
