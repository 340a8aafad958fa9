"""Deadline alerts fire at 50, 90 and 100 % with an injected clock, once each; audit verifies."""

from __future__ import annotations

from datetime import UTC, timedelta

from prometheus_client import REGISTRY

from contracts import parse_envelope
from contracts.hub_events import DeadlineAlert
from hub.app import Hub
from hub.pipeline.deadlines import scan_once
from hub.settings import HubSettings
from hub.store import audit_repo
from tests.factories import make_envelope, make_release_order

from .harness import FakeClock, amqp, database, drain, send, wait_for
from .test_delivery import COURT


async def _alerts(settings: HubSettings) -> list[tuple[str, int]]:
    async with amqp(settings) as ch:
        messages = await drain(ch, "hub.court.out")
    out = []
    for m in messages:
        p = parse_envelope(m.body).payload
        if isinstance(p, DeadlineAlert):
            out.append((p.deadline.value, p.threshold_pct))
    return sorted(out)


def _alert_count(deadline: str, pct: int) -> float:
    labels = {"deadline": deadline, "threshold": str(pct)}
    return REGISTRY.get_sample_value("hub_deadline_alerts_total", labels) or 0.0


async def test_alerts_fire_at_50_90_100_percent_once_each(settings: HubSettings) -> None:
    """Receipt deadline (1 h): alerts at 30, 54 and 60 min, each once however often scanned."""
    issued = make_release_order()
    clock = FakeClock(issued.issued_at.astimezone(UTC) + timedelta(minutes=10))
    before = _alert_count("receipt", 50)
    async with Hub(settings, specs=[COURT], clock=clock, background=False) as hub:
        async with amqp(settings) as ch:
            await send(ch, "hub.court.in", make_envelope(issued))

        async def dispatched() -> bool:
            async with database(settings) as db:
                return bool(await db.fetchval("SELECT count(*) FROM deadlines") > 0)

        await wait_for(dispatched, what="order dispatched")
        start = clock.now
        steps = [
            (29, []),
            (30, [("receipt", 50)]),
            (54, [("receipt", 90)]),
            (60, [("receipt", 100), ("validation", 50)]),
        ]
        for minutes, expected in steps:
            clock.now = start + timedelta(minutes=minutes)
            await scan_once(hub.engine, hub.pool, clock)
            await scan_once(hub.engine, hub.pool, clock)  # a second scan raises nothing new
            assert await _alerts(settings) == expected, minutes
    assert _alert_count("receipt", 50) == before + 1
    async with database(settings) as db:
        alerted = await db.fetchval("SELECT alerted FROM deadlines WHERE kind = 'receipt'")
        assert sorted(alerted) == [50, 90, 100]


async def test_audit_chain_verifies_and_catches_tampering(settings: HubSettings) -> None:
    """After a flow the chain verifies; an edited row and a deleted row are each caught."""
    async with Hub(settings, specs=[COURT], background=False):
        async with amqp(settings) as ch:
            await send(ch, "hub.court.in", make_envelope(make_release_order()))

        async def audited() -> bool:
            async with database(settings) as db:
                return bool(await db.fetchval("SELECT count(*) FROM audit_log") >= 3)

        await wait_for(audited, what="audit rows")
    async with database(settings) as db:
        count, broken = await audit_repo.verify(db)
        assert count >= 3
        assert broken is None
        # The tables' owner, round the append-only trigger (migration 0007).
        await db.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await db.execute("UPDATE audit_log SET detail = $1 WHERE seq = 2", {"kind": "forged"})
        count, broken = await audit_repo.verify(db)
        assert broken is not None
        assert broken.seq == 2
        await db.execute("DELETE FROM audit_log WHERE seq = 2")
        _, broken = await audit_repo.verify(db)
        assert broken is not None
        assert broken.seq == 2
        assert "missing" in broken.problem
