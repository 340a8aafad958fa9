"""What a batch reads beyond the keys its messages name, on the real database: the person's other
warrants in force (the compliance flip, R417 art.12 sole §) and the orders a warrant impedes (an
impediment lifted when the warrant leaves force, S000 art.4 §2)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from contracts.envelope import AnyPayload
from hub.domain.authority import Actor
from hub.domain.decide import Directory, decide
from hub.pipeline.engine import Engine, Job
from hub.settings import EngineSettings, PostgresSettings
from hub.store.pool import create_pool
from tests.conftest import PG_DSN
from tests.factories import (
    OTHER_PROCESS,
    OTHER_WARRANT,
    UNIT,
    make_envelope,
    make_impediment,
    make_receipt,
    make_release_order,
    make_validation,
    make_warrant_complied,
    make_warrant_expired,
    make_warrant_recorded,
)
from tests.integration.harness import ConfirmingPublisher

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ANY = Actor("court:test", ("*",))  # these tests are about what is read, not authority
D = Directory(units=frozenset({UNIT}))
THIRD = f"{OTHER_PROCESS}.0002"
ELSEWHERE = f"{OTHER_PROCESS}.0003"


@pytest.fixture
async def pool(schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A migrated pool in the test's schema."""
    p = await create_pool(PostgresSettings(dsn=PG_DSN, schema=schema, pool_min=1, pool_max=2))
    try:
        yield p
    finally:
        await p.close()


async def _batches(pool: asyncpg.Pool, *batches: Sequence[AnyPayload]) -> ConfirmingPublisher:
    """Each batch of payloads through the engine, one transaction after the other."""
    publisher = ConfirmingPublisher()

    def decider(env: Any, view: Any, now: datetime, _actor: Actor) -> Any:
        return decide(env, view, now, D, ANY)

    engine = Engine(pool, publisher, EngineSettings(max_wait_ms=5), lambda: NOW, decider)
    await engine.start()
    try:
        for batch in batches:
            for payload in batch:
                env = make_envelope(payload, message_id=uuid4())
                await engine.run(Job("hub.bnmp.in", env.message_id, (env,)))
    finally:
        await engine.stop()
    return publisher


async def _states(pool: asyncpg.Pool) -> dict[str, str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT warrant_number, state FROM warrants")
    return {r["warrant_number"]: r["state"] for r in rows}


async def test_a_compliance_reads_and_flips_the_persons_other_pending_warrants(
    pool: asyncpg.Pool,
) -> None:
    """The compliance names one warrant; the batch reads the person's others too, and the
    pending ones become complied. Another person's warrant is not touched."""
    another = {"cpf": "52998224725", "name": "Sicrana de Tal"}
    await _batches(
        pool,
        [
            make_warrant_recorded(),
            make_warrant_recorded(warrant_number=THIRD),
            make_warrant_recorded(warrant_number=ELSEWHERE, person=another),
        ],
        [make_warrant_complied(warrant_number=OTHER_WARRANT)],
    )
    assert await _states(pool) == {
        OTHER_WARRANT: "complied",
        THIRD: "complied",
        ELSEWHERE: "pending",
    }


async def test_a_warrant_leaving_force_reads_and_lifts_the_orders_it_impedes(
    pool: asyncpg.Pool,
) -> None:
    """The expiry names the warrant only; the batch reads the order it impedes, which loses the
    impediment and goes back to SETARIM."""
    impediment = make_impediment(warrant_number=OTHER_WARRANT, process_number=OTHER_PROCESS)
    publisher = await _batches(
        pool,
        [make_warrant_recorded()],
        [make_release_order(covered_warrants=(f"{OTHER_PROCESS}.0009",)), make_receipt()],
        [make_validation(impediments=(impediment,))],
        [make_warrant_expired(warrant_number=OTHER_WARRANT)],
    )
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT state, impediments FROM release_orders")
    assert row is not None
    assert (row["state"], row["impediments"]) == ("ready_impeded", [])
    lifted = [m for m in publisher.sent if m.kind == "hub.impediment.lifted"]
    assert [m.routing_keys for m in lifted] == [("hub.setarim.out", "hub.court.out")]
    assert (await _states(pool))[OTHER_WARRANT] == "expired"
