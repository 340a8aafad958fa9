"""Whether RabbitMQ lets the hub publish: its resource alarms, seen as `connection.blocked`.

When a node runs short of memory (`vm_memory_high_watermark`) or disk (`disk_free_limit`) it raises
an alarm and blocks every connection that publishes: it sends `connection.blocked` and stops
reading the connection's socket until the alarm clears (`connection.unblocked`). Nothing the hub
writes then reaches the broker: no publish, no confirm comes back, no ack is taken. Carrying on
would time publishes out (their confirms never come), send messages round the retry ladder and
into dead letters, and have the relay and the reconciler spin. So while blocked the hub pauses:
the intake hands no new delivery to a handler (`hub.amqp.intake`), publishes wait for the
unblocking instead of timing out (`hub.amqp.publisher`), and the background loops skip their
rounds; the dashboard shows a banner, `hub_broker_blocked` is 1 and an alert rule fires. When
the broker unblocks the connection everything resumes where it stopped, nothing lost.

aiormq handles the two frames itself and exposes the state only through its public `ready()`,
which waits while the connection is blocked: `BrokerFlow.watch` polls it (a connected connection
whose `ready()` does not finish at once is blocked), so no private name of aiormq is used.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from hub import metrics

__all__ = ["BrokerFlow"]

log = structlog.get_logger("hub.flow")

Connect = Callable[[], Awaitable[Any]]  # the hub's aio-pika robust connection


class BrokerFlow:
    """The hub connection's state as the broker's flow control leaves it: open, or blocked."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self.blocked_since: datetime | None = None
        self._unblocked_at = 0.0  # monotonic time of the last unblocking
        self._released = False

    @property
    def blocked(self) -> bool:
        """Whether the broker blocks the hub's connection now."""
        return not self._open.is_set()

    def blocked_after(self, since: float) -> bool:
        """Whether the connection is blocked now or was at some time after `since` (monotonic)."""
        return self.blocked or self._unblocked_at > since

    async def wait_open(self) -> None:
        """Return when the connection is not blocked (at once if it is not)."""
        if not self._open.is_set():
            await self._open.wait()

    def set_blocked(self) -> None:
        """The broker blocked the connection: pause (idempotent)."""
        if self._open.is_set() and not self._released:
            self._open.clear()
            self.blocked_since = datetime.now(UTC)
            metrics.BROKER_BLOCKED.set(1)
            metrics.BROKER_BLOCKS.inc()
            log.error(
                "broker.blocked",
                why="a RabbitMQ resource alarm (memory or disk) blocks publishing: intake paused",
            )

    def set_unblocked(self) -> None:
        """The broker unblocked the connection (or it was replaced): resume (idempotent)."""
        if not self._open.is_set():
            since = self.blocked_since
            self._unblocked_at = time.monotonic()
            self.blocked_since = None
            self._open.set()
            metrics.BROKER_BLOCKED.set(0)
            lasted = (datetime.now(UTC) - since).total_seconds() if since else None
            log.warning("broker.unblocked", blocked_s=lasted)

    def release(self) -> None:
        """The hub is stopping, its connection closed: whatever waits goes on (a publish then fails
        at once and its outbox row stays for the relay of the next start); no more pausing."""
        self._released = True
        self.set_unblocked()

    async def watch(self, connect: Connect, *, every_s: float) -> None:
        """Follow the broker's flow control for ever: poll whether the hub's connection is blocked
        (a connection being re-established is not: a new connection starts unblocked)."""
        while True:
            try:
                amqp = _underlay(await connect())
                if amqp is None or not amqp.connected.is_set():
                    self.set_unblocked()
                else:
                    await self._follow(amqp, every_s)
            except Exception as e:  # a connection going away under the poll: look again
                log.debug("flow.watch_failed", error=type(e).__name__)
                self.set_unblocked()
            await asyncio.sleep(every_s)

    async def _follow(self, amqp: Any, every_s: float) -> None:
        """One poll: blocked if `ready()` does not finish within `every_s`; then wait (polling
        that the connection is still the same one) until it does."""
        ready = asyncio.ensure_future(amqp.ready())
        try:
            done, _ = await asyncio.wait({ready}, timeout=every_s)
            if done:
                self.set_unblocked()
                return
            if not amqp.connected.is_set():
                return  # disconnected meanwhile: not blocked, reconnecting
            self.set_blocked()
            while not ready.done() and amqp.connected.is_set() and not amqp.is_closed:
                await asyncio.wait({ready}, timeout=every_s)
            self.set_unblocked()
        finally:
            ready.cancel()


def _underlay(connection: Any) -> Any:
    """The aiormq connection under an aio-pika connection, or None while it reconnects."""
    transport = getattr(connection, "transport", None)
    return None if transport is None else transport.connection
