"""Transient failures walk the retry ladder, permanent ones dead-letter at once, poison stops."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from connectors import court
from contracts import BnmpDocumentType, BnmpRegistrationCompleted, Envelope, Source
from hub.amqp.publisher import Publisher
from hub.app import Hub
from hub.connector import ConnectorSpec, Deliver
from hub.domain.outgoing import Outgoing
from hub.domain.topology import DLX, RETRY_EXCHANGE
from hub.errors import PublishFailed, UpstreamRejected, UpstreamThrottled
from hub.settings import HubSettings
from tests.factories import make_envelope, make_release_order

from .harness import amqp, database, send, wait_for

# The real court connector (signatures verified, authority from its key), without its webhook
COURT = dataclasses.replace(court.spec, deliver=None)
BNMP = Source(connector="bnmp", system="BNMP3")


def registered(env: Envelope) -> tuple[Envelope, ...]:
    """What BNMP answers when it registers the order in `env`."""
    result = BnmpRegistrationCompleted(
        document_number=env.correlation_id,
        document_type=BnmpDocumentType.RELEASE_ORDER,
        bnmp_id="BNMP-42",
        registered_at=datetime.now(UTC),
    )
    mid = uuid5(NAMESPACE_URL, f"bnmp:{env.message_id}")
    return (
        Envelope.new(
            result,
            source=BNMP,
            correlation_id=env.correlation_id,
            causation_id=env.message_id,
            message_id=mid,
        ),
    )


def bnmp(deliver: Deliver) -> ConnectorSpec:
    """A BNMP connector whose delivery is the test's function."""
    return ConnectorSpec("bnmp", frozenset(), deliver=lambda _resources: deliver)


async def _order_bnmp_id(settings: HubSettings) -> str | None:
    async with database(settings) as db:
        return await db.fetchval("SELECT bnmp_id FROM release_orders")  # type: ignore[no-any-return]


async def test_transient_failure_walks_the_ladder_and_succeeds(settings: HubSettings) -> None:
    """BNMP throttles twice: the delivery waits on two rungs, then registers the order once."""
    calls: list[datetime] = []

    async def flaky(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        calls.append(datetime.now(UTC))
        if len(calls) <= 2:
            raise UpstreamThrottled("bnmp", "429")
        return registered(env)

    async with Hub(settings, specs=[COURT, bnmp(flaky)], background=False):
        async with amqp(settings) as ch:
            await send(ch, "hub.court.in", make_envelope(make_release_order()))
        assert await wait_for(lambda: _order_bnmp_id(settings), what="registration") == "BNMP-42"
    assert len(calls) == 3
    gaps = [(b - a).total_seconds() for a, b in pairwise(calls)]
    assert gaps[0] >= 0.3  # the rungs' TTLs (0.3 s, 0.6 s)
    assert gaps[1] >= 0.6, gaps
    async with database(settings) as db:
        assert await db.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_permanent_failure_is_dead_lettered_at_once_with_its_reason(
    settings: HubSettings,
) -> None:
    """BNMP refusing the document parks it in the dead-letter store after one try."""
    calls = 0

    async def refuses(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        nonlocal calls
        calls += 1
        raise UpstreamRejected("bnmp refused: missing judge signature")

    async with Hub(settings, specs=[COURT, bnmp(refuses)], background=False):
        async with amqp(settings) as ch:
            await send(ch, "hub.court.in", make_envelope(make_release_order()))

        async def parked() -> object:
            async with database(settings) as db:
                return await db.fetchrow("SELECT * FROM dead_letters")

        row = await wait_for(parked, what="dead letter")
    assert calls == 1
    assert row["queue"] == "hub.bnmp.out"
    assert row["connector"] == "bnmp"
    assert row["reason"] == "upstream_rejected"
    assert row["error_type"] == "UpstreamRejected"
    assert "missing judge signature" in row["error_message"]
    assert "Traceback" in row["trace"]
    assert row["kind"] == "court.release_order.issued"
    assert row["attempts"] == 0


async def test_retries_exhausted_dead_letter_with_the_last_error(settings: HubSettings) -> None:
    """A system that keeps throttling is tried once per rung, then dead-lettered (exhausted)."""
    calls = 0

    async def down(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        nonlocal calls
        calls += 1
        raise UpstreamThrottled("bnmp", "429")

    async with Hub(settings, specs=[COURT, bnmp(down)], background=False):
        async with amqp(settings) as ch:
            await send(ch, "hub.court.in", make_envelope(make_release_order()))

        async def parked() -> object:
            async with database(settings) as db:
                return await db.fetchrow("SELECT reason, attempts FROM dead_letters")

        row = await wait_for(parked, what="dead letter")
    assert calls == 3  # the first try, then one per rung (0.3 s, 0.6 s)
    assert row["reason"] == "retries_exhausted:upstream_throttled"
    assert row["attempts"] == 2


class _NoRedirects:
    """A publisher whose retry and dead-letter publishes fail, as when the broker refuses them."""

    def __init__(self, inner: Publisher) -> None:
        self.inner = inner

    async def publish(self, message: Outgoing) -> None:
        if message.exchange in (RETRY_EXCHANGE, DLX):
            raise PublishFailed("injected: broker refused the redirect")
        await self.inner.publish(message)

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[PublishFailed | None]:
        return await self.inner.publish_many(messages)


async def test_a_message_that_keeps_failing_stops_at_the_delivery_limit(
    settings: HubSettings,
) -> None:
    """When even the redirect fails the message is requeued; the queue's limit dead-letters it."""
    calls = 0

    async def down(env: Envelope, headers: Mapping[str, Any]) -> tuple[Envelope, ...]:
        nonlocal calls
        calls += 1
        raise UpstreamThrottled("bnmp")

    async with Hub(
        settings,
        specs=[COURT, bnmp(down)],
        background=False,
        wrap_publisher=_NoRedirects,
    ):
        async with amqp(settings) as ch:
            await send(ch, "hub.court.in", make_envelope(make_release_order()))

        async def parked() -> object:
            async with database(settings) as db:
                return await db.fetchrow("SELECT reason, queue FROM dead_letters")

        row = await wait_for(parked, what="delivery-limit dead letter")
    assert row["reason"] == "broker_delivery_limit"
    assert row["queue"] == "hub.bnmp.out"
    assert calls == settings.rabbit.delivery_limit + 1
