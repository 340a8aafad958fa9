"""Putting messages on the broker: a fast preload of a backlog; a steady offered load with a sink.

`offer` is open-loop: message i is due at start + i/rate whatever happened to the ones before, and
its send time is stamped in the body as that due time, so a generator or broker that falls behind
shows up in the latency instead of hiding it (no coordinated omission). The sink reads the
downstream queue and measures from the stamp to arrival.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

from bench.measure import percentiles
from bench.messages import SIGNER, WarrantFactory, sent_at
from hub.domain.topology import in_queue

__all__ = ["BASELINE", "HUB", "Target", "offer", "preload"]

_PRELOAD_WINDOW = 1000  # publishes in flight at once; their confirms are pipelined
_STALL_S = 10.0  # after the last send, stop waiting once nothing has arrived for this long


@dataclass(frozen=True)
class Target:
    """Where a system under test reads its input, and the queue its one-hop output lands in."""

    exchange: str
    routing_key: str
    sink: str


HUB = Target("hub.court.in", "", "hub.bnmp.out")
BASELINE = Target("", "bench.baseline.in", "bench.baseline.out")


def _message(message_id: str, body: bytes, target: Target) -> aio_pika.Message:
    """As the sender publishes it: to the hub's court exchange signed by the bench's court."""
    signed = target.exchange == in_queue("court")
    return aio_pika.Message(
        body,
        headers=dict(SIGNER.headers(body)) if signed else None,
        message_id=message_id,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


async def _exchange(channel: aio_pika.abc.AbstractChannel, target: Target) -> AbstractExchange:
    if not target.exchange:
        return channel.default_exchange
    return await channel.get_exchange(target.exchange, ensure=False)


async def preload(url: str, target: Target, count: int, factory: WarrantFactory) -> float:
    """Publish `count` distinct warrants to `target` with confirms; return the seconds it took."""
    started = time.perf_counter()
    async with await aio_pika.connect(url) as conn:
        channel = await conn.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await _exchange(channel, target)
        for first in range(0, count, _PRELOAD_WINDOW):
            batch = (factory.make(i) for i in range(first, min(count, first + _PRELOAD_WINDOW)))
            await asyncio.gather(
                *(exchange.publish(_message(m, b, target), target.routing_key) for m, b in batch)
            )
    return time.perf_counter() - started


class _Sink:
    """Consumes the downstream queue; records (due offset s, latency ms) and arrival per message."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.seen: list[tuple[float, float]] = []
        self.last_arrival = time.perf_counter()
        self.arrived = asyncio.Event()

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        due = sent_at(message.body)
        latency = (datetime.now(UTC) - due).total_seconds() * 1000
        self.seen.append(((due - self.start).total_seconds(), latency))
        self.last_arrival = time.perf_counter()
        self.arrived.set()

    async def wait_for(self, count: int) -> None:
        """Wait until `count` messages came, or none came for `_STALL_S` seconds."""
        while len(self.seen) < count:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), _STALL_S)
            except TimeoutError:
                return


async def _send_at_rate(
    exchange: AbstractExchange, target: Target, rate: float, count: int, wall0: datetime
) -> tuple[list[float], int]:
    factory = WarrantFactory()
    t0 = time.perf_counter() + (wall0 - datetime.now(UTC)).total_seconds()
    lags: list[float] = []
    sends: list[asyncio.Task[Any]] = []
    for i in range(count):
        due = t0 + i / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        lags.append((time.perf_counter() - due) * 1000)
        mid, body = factory.make(i, occurred_at=wall0 + timedelta(seconds=i / rate))
        sends.append(
            asyncio.create_task(exchange.publish(_message(mid, body, target), target.routing_key))
        )
    results = await asyncio.gather(*sends, return_exceptions=True)
    failed = sum(isinstance(r, BaseException) for r in results)
    return lags, failed


async def offer(
    url: str,
    target: Target,
    rate: float,
    duration_s: float,
    warmup_s: float,
    on_ready: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Offer `rate` msg/s for `duration_s`; latency percentiles of messages due after warm-up.

    `on_ready` is called once connected, just before the first message is due.
    """
    count = int(rate * duration_s)
    async with await aio_pika.connect(url) as conn:
        sink_channel = await conn.channel()
        queue = await sink_channel.declare_queue(target.sink, passive=True)
        pub = await conn.channel(publisher_confirms=True, on_return_raises=True)
        wall0 = datetime.now(UTC) + timedelta(seconds=0.2)
        start = time.perf_counter() + 0.2
        sink = _Sink(wall0)
        await queue.consume(sink, no_ack=True)
        on_ready()
        lags, failed = await _send_at_rate(await _exchange(pub, target), target, rate, count, wall0)
        await sink.wait_for(count - failed)
    return _summary(sink, count, failed, lags, sink.last_arrival - start, warmup_s)


def _summary(
    sink: _Sink, sent: int, failed: int, lags: list[float], span_s: float, warmup_s: float
) -> dict[str, Any]:
    measured = [lat for due, lat in sorted(sink.seen) if due >= warmup_s]
    edge = max(1, len(measured) // 20)
    return {
        "sent": sent,
        "received": len(sink.seen),
        "publish_failed": failed,
        "achieved_rate": round(len(sink.seen) / span_s, 1) if span_s > 0 else 0.0,
        "latency_ms": percentiles(measured),
        # Flat when the system keeps up; growing when it falls behind the offered rate.
        "first_5pct_p50_ms": percentiles(measured[:edge]).get("p50"),
        "last_5pct_p50_ms": percentiles(measured[-edge:]).get("p50"),
        "generator_lag_ms": percentiles(lags),
    }
