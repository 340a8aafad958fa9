"""The baseline: a competent raw aio-pika consumer doing one hop, with per-message guarantees.

Per message, concurrently (aiormq runs one task per delivery, up to the prefetch of 256):

1. validate the body with pydantic through the same `contracts.parse_envelope` the hub uses;
2. INSERT one row (message id as primary key, `ON CONFLICT DO NOTHING`: redelivery-safe) through
   an asyncpg pool of the same size as the hub's, committed on its own (autocommit);
3. publish the validated envelope to a quorum queue, persistent, `mandatory`, on a channel with
   publisher confirms, and wait for the confirm;
4. ack (`message.process()`: ack on success, nack with requeue on any error).

Input and output are quorum queues, as the hub's are.
"""

from __future__ import annotations

from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

from bench.measure import Probe, drain_window
from bench.probes import rss_mb
from bench.results import StepResult, StepSpec
from bench.scenarios.steady import offer_load
from bench.traffic import BASELINE
from contracts import parse_envelope
from hub.settings import HubSettings

__all__ = ["baseline_hop", "baseline_steady", "prepare_baseline"]

_QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}
_DDL = """
CREATE SCHEMA IF NOT EXISTS "{schema}";
CREATE TABLE IF NOT EXISTS "{schema}".received (
    message_id      uuid        PRIMARY KEY,
    kind            text        NOT NULL,
    correlation_id  text        NOT NULL,
    body            bytea       NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
)
"""


async def prepare_baseline(settings: HubSettings) -> None:
    """Declare the baseline's input and output quorum queues and create its table."""
    async with await aio_pika.connect(settings.rabbit.url) as conn:
        channel = await conn.channel()
        for name in (BASELINE.routing_key, BASELINE.sink):
            await channel.declare_queue(name, durable=True, arguments=_QUORUM)
    pg = await asyncpg.connect(settings.postgres.dsn)
    try:
        await pg.execute(_DDL.format(schema=settings.postgres.schema_))
    finally:
        await pg.close()


class _Consumer:
    """The raw consumer: validate, insert, publish with confirm, ack."""

    def __init__(self, pool: asyncpg.Pool, exchange: AbstractExchange, schema: str) -> None:
        self.pool, self.exchange, self.done = pool, exchange, 0
        self._insert = (
            f'INSERT INTO "{schema}".received (message_id, kind, correlation_id, body)'
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
        )

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        async with message.process(requeue=True):
            env = parse_envelope(message.body)
            await self.pool.execute(
                self._insert, env.message_id, env.kind, env.correlation_id, message.body
            )
            out = aio_pika.Message(
                env.to_bytes(),
                message_id=str(env.message_id),
                correlation_id=env.correlation_id,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await self.exchange.publish(out, BASELINE.sink, mandatory=True)
        self.done += 1


async def _running(settings: HubSettings) -> tuple[Any, asyncpg.Pool, _Consumer]:
    conn = await aio_pika.connect(settings.rabbit.url)
    channel = await conn.channel(publisher_confirms=True, on_return_raises=True)
    await channel.set_qos(prefetch_count=settings.rabbit.prefetch)
    pg = settings.postgres
    pool = await asyncpg.create_pool(pg.dsn, min_size=pg.pool_min, max_size=pg.pool_max)
    consumer = _Consumer(pool, channel.default_exchange, pg.schema_)
    queue = await channel.declare_queue(BASELINE.routing_key, passive=True)
    await queue.consume(consumer)
    return conn, pool, consumer


async def baseline_hop(spec: StepSpec) -> StepResult:
    """Drain `spec.messages` preloaded messages through the raw consumer; measure the window."""
    monitor = await asyncpg.connect(spec.settings.postgres.dsn)
    conn, pool, consumer = await _running(spec.settings)
    try:
        window = await drain_window(
            lambda: consumer.done,
            spec.messages,
            Probe(monitor, spec),
            timeout_s=spec.timeout_s,
        )
    finally:
        await conn.close()
        await pool.close()
        await monitor.close()
    return StepResult(
        step=spec.step,
        messages=window.messages,
        seconds=round(window.seconds, 3),
        rate=round(window.rate, 1),
        published=consumer.done,
        cpu_ms_per_msg=window.cpu_ms_per_msg(),
        peak_rss_mb=round(rss_mb("VmHWM"), 1),
        extra={"window": window.opened},
    )


async def baseline_steady(spec: StepSpec) -> StepResult:
    """Run the raw consumer under a steady offered load; latency from send to the output queue."""
    monitor = await asyncpg.connect(spec.settings.postgres.dsn)
    conn, pool, consumer = await _running(spec.settings)
    try:
        return await offer_load(spec, BASELINE, Probe(monitor, spec), lambda: consumer.done)
    finally:
        await conn.close()
        await pool.close()
        await monitor.close()
