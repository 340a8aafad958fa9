"""The acknowledgement ledger's clock: raises deadline alerts at 50, 90 and 100 % of each deadline.

Technical acknowledgements are the outbox's `confirmed_at` and, per destination, `outbox_acks`;
business acknowledgements are the `deadlines` rows, opened and closed by the core's decisions. This
scanner reads the open ones whose half-time has passed, and submits one `DeadlineAlert` per newly
crossed threshold to the engine, which routes it, records it as alerted and audits it. Alert ids are
derived from (subject, deadline, threshold), so two hub processes scanning at once raise each alert
once (the inbox drops the copy).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from uuid import NAMESPACE_URL, uuid5

import asyncpg
import structlog

from contracts import Envelope
from contracts.deadlines import Deadline, thresholds_crossed
from contracts.hub_events import DeadlineAlert
from contracts.vocabulary import DeadlineKind
from hub import metrics
from hub.clock import Clock
from hub.domain.decide import HUB_SOURCE
from hub.pipeline.engine import Engine, Job
from hub.store import deadlines_repo
from hub.store.deadlines_repo import OpenDeadline

__all__ = ["SCANNER", "due_alerts", "run_scanner", "scan_once"]

log = structlog.get_logger("hub.ledger")

SCANNER = "hub.deadlines"


def due_alerts(rows: Sequence[OpenDeadline], now: datetime) -> list[Envelope]:
    """The alert messages the open deadlines in `rows` call for at `now` (pure)."""
    out = []
    for r in rows:
        dl = Deadline(kind=DeadlineKind(r.kind), started_at=r.started_at, due_at=r.due_at)
        for pct in thresholds_crossed(dl, set(r.alerted), now):
            alert = DeadlineAlert(
                subject_id=r.subject,
                deadline=dl.kind,
                threshold_pct=pct,
                started_at=dl.started_at,
                due_at=dl.due_at,
                raised_at=now,
            )
            message_id = uuid5(NAMESPACE_URL, f"hub:alert:{alert.dedup_key}")
            out.append(
                Envelope.new(alert, source=HUB_SOURCE, occurred_at=now, message_id=message_id)
            )
    return out


async def scan_once(engine: Engine, pool: asyncpg.Pool, clock: Clock, limit: int = 1000) -> int:
    """Raise the alerts due now; return how many were raised."""
    now = clock()
    async with pool.acquire() as conn:
        rows = await deadlines_repo.past_half_time(conn, now, limit)
    alerts = due_alerts(rows, now)
    results = await asyncio.gather(
        *(engine.run(Job(SCANNER, env.message_id, (env,))) for env in alerts),
        return_exceptions=True,
    )
    raised = 0
    for env, result in zip(alerts, results, strict=True):
        if isinstance(result, BaseException):
            log.warning(
                "deadline.alert_failed", subject=env.correlation_id, error=type(result).__name__
            )
            continue
        assert isinstance(env.payload, DeadlineAlert)
        metrics.DEADLINE_ALERTS.labels(
            env.payload.deadline.value, str(env.payload.threshold_pct)
        ).inc()
        raised += 1
    return raised


async def run_scanner(engine: Engine, pool: asyncpg.Pool, clock: Clock, *, every_s: float) -> None:
    """Scan for ever, every `every_s` seconds of real time (the injected clock may run faster)."""
    while True:
        try:
            await scan_once(engine, pool, clock)
        except Exception as e:  # keep scanning through database outages
            log.warning("deadline.scan_failed", error=type(e).__name__)
        await asyncio.sleep(every_s)
