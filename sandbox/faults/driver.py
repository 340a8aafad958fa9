"""The outside world during faults: a court system that publishes again after a broker failure, and
custodial units that answer again when an answer could not be sent.

Both behave as careful external systems should. The court publishes with confirms and, when the
broker is unreachable or the confirm does not come, reconnects and publishes the same message (same
message id: the hub's inbox drops a copy that did get through). A unit marks a delivery as handled
only once its answer was confirmed, so a redelivery after a broker restart is answered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from uuid import uuid4

import aio_pika

from contracts import Envelope, WarrantIssued, WarrantRevoked
from contracts.envelope import AnyPayload
from hub.domain.topology import in_queue
from sandbox.demo.driver import Driver
from sandbox.simulate import SimWorld
from sandbox.simulators.custodial_unit import UnitSimulator

__all__ = ["CourtLink", "FaultDriver", "ResilientUnits"]

_RETRYABLE = (*aio_pika.exceptions.CONNECTION_EXCEPTIONS, TimeoutError)


class CourtLink:
    """A court system's AMQP connection: confirmed publishes, reconnecting on any failure."""

    def __init__(self, url: str, patience_s: float = 300.0) -> None:
        self.url = url
        self.patience_s = patience_s
        self.retries = 0
        self._conn: aio_pika.abc.AbstractConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None

    async def channel(self) -> aio_pika.abc.AbstractChannel:
        """The current channel, connecting first when there is none."""
        if self._channel is None or self._channel.is_closed:
            await self.close()
            self._conn = await aio_pika.connect(self.url, timeout=5)
            self._channel = await self._conn.channel(publisher_confirms=True)
        return self._channel

    async def close(self) -> None:
        """Drop the connection (it may already be dead)."""
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(*_RETRYABLE):
                await conn.close()

    async def publish(
        self, exchange: str, body: bytes, message_id: str, headers: Mapping[str, str]
    ) -> None:
        """Publish until the broker confirms, reconnecting between tries; give up after patience."""
        deadline, delay = time.monotonic() + self.patience_s, 0.2
        while True:
            try:
                ex = await (await self.channel()).get_exchange(exchange, ensure=False)
                await ex.publish(
                    aio_pika.Message(
                        body,
                        message_id=message_id,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        headers=dict(headers),
                    ),
                    routing_key="",
                    timeout=10,
                )
                return
            except _RETRYABLE:
                self.retries += 1
                await self.close()
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)


class FaultDriver(Driver):
    """The demo's driver, publishing through a `CourtLink`; remembers the ids of bad documents."""

    def __init__(
        self,
        world: SimWorld,
        link: CourtLink,
        channel: aio_pika.abc.AbstractChannel,
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__(world, channel, clock)
        self.link = link
        self.malformed_ids: list[str] = []
        self.warrants_sent: list[str] = []
        self.counter_warrants_sent: list[tuple[str, str]] = []

    async def _publish(self, body: bytes, message_id: str | None = None) -> None:
        if message_id is None:  # only the malformed documents come without an id
            message_id = str(uuid4())
            self.malformed_ids.append(message_id)
        signature = self.world.court_signer.headers(body)  # bad documents are signed too
        await self.link.publish(in_queue("court"), body, message_id, signature)

    async def _court(self, payload: AnyPayload) -> None:
        if isinstance(payload, WarrantRevoked):
            self.counter_warrants_sent.append(
                (payload.counter_warrant_number, payload.warrant_number)
            )
        elif isinstance(payload, WarrantIssued):
            self.warrants_sent.append(payload.warrant_number)
        await super()._court(payload)


class ResilientUnits(UnitSimulator):
    """The unit simulator, answering a delivery again when its first answer could not be sent (the
    simulator marks a delivery seen before it answers)."""

    async def _on(self, unit: str, env: Envelope) -> None:
        try:
            await super()._on(unit, env)
        except BaseException:
            self.seen.discard(str(env.message_id))
            raise
