"""Reconciliation with BNMP, the register of record, scheduled and on demand.

Reads the hub's records changed in the window (`hub.store.reconcile_repo`), asks BNMP for the
pieces of the same processes (the fetch the composition root passes in: `connectors.bnmp`),
compares them (`hub.domain.reconcile.compare`, pure) and records what disagrees: the `bnmp_drift`
table (what is wrong now, for the dashboard), the gauge `hub_bnmp_drift{kind,court}` (alerted by
`HubBnmpDrift`) and a log line per drift. `python -m hub reconcile` runs it once and reports it per
court; the hub runs it every `bnmp.reconcile_every_s`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import timedelta

import asyncpg
import structlog

from hub import metrics
from hub.clock import Clock
from hub.domain.reconcile import BnmpPiece, Drift, DriftKind, by_court, compare
from hub.store.reconcile_repo import hub_records, replace_drift

__all__ = ["Fetch", "reconcile_once", "run_bnmp_reconcile"]

log = structlog.get_logger("hub.bnmp_reconcile")

# BNMP's pieces of the given processes (masked CNJ numbers), in the hub's words.
Fetch = Callable[[Collection[str]], Awaitable[list[BnmpPiece]]]


async def reconcile_once(
    pool: asyncpg.Pool, fetch: Fetch, clock: Clock, window: timedelta
) -> list[Drift]:
    """One reconciliation of the records changed in `window`: compare, record, export, log."""
    now = clock()
    async with pool.acquire() as conn:
        records = await hub_records(conn, now - window)
    drift = compare(records, await fetch(records.processes()))
    async with pool.acquire() as conn:
        await replace_drift(conn, drift, now)
    export(drift)
    for d in drift:
        log.warning(
            "bnmp.drift", kind=d.kind.value, subject=d.subject, court=d.court, detail=d.detail
        )
    log.info("bnmp.reconciled", drift=len(drift), processes=len(records.processes()))
    return drift


def export(drift: Sequence[Drift]) -> None:
    """Set `hub_bnmp_drift{kind,court}` to this run's counts (a pair no longer drifting goes);
    each kind keeps a zero sample (court "-") so the series exists before any drift."""
    metrics.BNMP_DRIFT.clear()
    for kind in DriftKind:
        metrics.BNMP_DRIFT.labels(kind.value, "-").set(0)
    for court, kinds in by_court(drift).items():
        for kind, n in kinds.items():
            metrics.BNMP_DRIFT.labels(kind.value, court).set(n)


export(())  # the zero samples from the start


async def run_bnmp_reconcile(
    pool: asyncpg.Pool, fetch: Fetch, clock: Clock, *, every_s: float, window: timedelta
) -> None:
    """Reconcile every `every_s` seconds, through BNMP's outages (a failed run is logged; the
    recorded drift stays the last run's)."""
    while True:
        try:
            await reconcile_once(pool, fetch, clock, window)
        except Exception as e:  # keep reconciling through outages
            log.warning("bnmp.reconcile_failed", error=type(e).__name__)
        await asyncio.sleep(every_s)
