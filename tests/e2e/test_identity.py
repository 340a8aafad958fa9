"""A sender's identity survives every path, with production's checks on (unit identity and court
signatures required; each simulated unit logs in as its own RabbitMQ user).

The identity is established when a message first reaches the hub and carried by the hub's own
headers under the hub's `user_id` (`hub.domain.sender`): the retry ladder, a dead letter and an
operator's replay keep it, and a sender's forged `x-hub-*` headers earn nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY

from connectors.custodial_unit.client import UnitClient
from connectors.custodial_unit.mapping import receipt_for
from contracts import Envelope, Source
from hub.ops.auth import Principal, Role
from hub.ops.service import OpsService
from sandbox.simulators.custodial_unit import OFFICIAL
from tests.integration.harness import database, wait_for

from .conftest import E2E, order

FORGED = {
    "x-hub-attempt": 99,  # the ladder's count: would park the message at once if believed
    "x-hub-sender-login": "unit-mg.other",  # another unit's name
    "x-hub-error-reason": "approved",
    "x-hub-failed-queue": "hub.bnmp.out",
}


def _retried(queue: str) -> float:
    """Messages from `queue` sent to any rung of the retry ladder so far (this process)."""
    total = 0.0
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == "hub_messages_retried_total" and sample.labels["queue"] == queue:
                total += sample.value
    return total


async def _letters(e2e: E2E) -> list[Any]:
    async with database(e2e.settings) as db:
        return list(await db.fetch("SELECT id, reason, status, failures FROM dead_letters"))


async def test_a_compliance_that_overtakes_its_receipt_is_applied_once_the_receipt_arrives(
    e2e: E2E,
) -> None:
    """The unit certifies compliance before acknowledging receipt, with forged x-hub-* headers on
    both: the certificate waits on the retry ladder (as the hub, carrying the unit's identity),
    is applied once the receipt arrives, and the order is certified in BNMP; nothing is parked."""
    units = e2e.world.units
    units.faults.compliance_first = True
    # the receipt half a second later: the certificate is decided first, whatever the batching
    units.faults.receipt_after_s = 0.5  # within the test ladder (0.3 s + 0.6 s)
    units.faults.headers = dict(FORGED)
    before = _retried("hub.custodial_unit.in")
    o = order(41)
    await e2e.court_sends(o)
    await e2e.until_order(o.order_number, "certified")
    assert _retried("hub.custodial_unit.in") > before  # the certificate did take the ladder
    assert units.released[o.order_number] == 1
    assert await _letters(e2e) == []


async def test_a_dead_lettered_unit_message_replayed_by_an_operator_keeps_its_sender(
    e2e: E2E,
) -> None:
    """A unit's receipt for an order the hub does not know yet is dead-lettered; once the order
    exists an operator replays it, and it is applied as the unit's (not refused `wrong_sender`)."""
    o = order(42)
    unit = o.custodial_unit
    assert unit is not None
    await e2e.world.units.leave(unit)  # this test speaks for the unit, as its own RabbitMQ user
    got: asyncio.Queue[Envelope] = asyncio.Queue()
    client = UnitClient(e2e.world.unit_urls[unit], unit)
    await client.start(got.put)
    try:
        source = Source(connector="custodial_unit", system="SIGPRI", unit=unit)
        early = receipt_for(o, unit, datetime.now(UTC), OFFICIAL)
        env = Envelope.new(early, source=source, correlation_id=o.order_number)
        await client.answer(env, dict(FORGED))

        async def parked() -> list[Any]:
            return [r for r in await _letters(e2e) if r["status"] == "parked"]

        (letter,) = await wait_for(parked, what="the early receipt parked")
        assert letter["reason"] != "wrong_sender"
        await e2e.court_sends(o)
        await e2e.until_order(o.order_number, "validated")
        ops = OpsService.from_hub(e2e.hub)
        result = await ops.actions.replay(
            letter["id"], Principal("ana", Role.OPERATOR), "the order has arrived"
        )
        assert result.done, result
        await e2e.until_order(o.order_number, "ready")
    finally:
        await client.stop()
    letters = await _letters(e2e)
    assert [(r["id"], r["status"], r["failures"]) for r in letters] == [
        (letter["id"], "replayed", 1)
    ]
