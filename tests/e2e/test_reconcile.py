"""Reconciliation with BNMP, the register of record, end to end: a clean run finds nothing; each of
three drifts seeded in BNMP (one of each kind, dated before the poller's window so the hub never
hears of it) is found, recorded for the dashboard and exported.

Real broker and database; BNMP, SETARIM, the court and the units as real servers and clients.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.bnmp.mapping import digits
from connectors.bnmp.reconcile import fetcher
from hub import metrics
from hub.clock import utc_now
from hub.domain.reconcile import Drift, DriftKind
from hub.pipeline.bnmp_reconcile import reconcile_once

from .conftest import E2E, order, warrant


async def _reconcile(e2e: E2E) -> list[Drift]:
    fetch = fetcher(e2e.settings.bnmp, e2e.hub.http)
    return await reconcile_once(e2e.hub.pool, fetch, utc_now, timedelta(days=30))


async def test_reconciliation_finds_each_seeded_drift_and_nothing_on_a_clean_run(e2e: E2E) -> None:
    """A: a warrant complied in BNMP, then released by an order the hub certified (BNMP revokes
    it); C: a warrant complied in BNMP (the person held); B: a warrant pending. All agree: no
    drift. Then BNMP drifts, before the poller's window: A's warrant in force again, B revoked, C
    pending again; each is found as its own kind, and nothing else."""
    bnmp = e2e.world.bnmp
    a, b, c = warrant(60), warrant(61), warrant(62)
    await e2e.court_sends(a)
    await e2e.until_warrant(a.warrant_number, "pending")
    bnmp.comply(digits(a.warrant_number))
    await e2e.until_warrant(a.warrant_number, "complied")
    release = order(60)
    assert release.covered_warrants == (a.warrant_number,)
    await e2e.court_sends(release)
    await e2e.until_order(release.order_number, "certified")
    assert await e2e.fetch(
        "SELECT released FROM release_orders WHERE order_number = $1", release.order_number
    )
    await e2e.until_warrant(a.warrant_number, "revoked")
    await e2e.court_sends(c)
    await e2e.until_warrant(c.warrant_number, "pending")
    bnmp.comply(digits(c.warrant_number))
    await e2e.until_warrant(c.warrant_number, "complied")
    await e2e.court_sends(b)
    await e2e.until_warrant(b.warrant_number, "pending")

    assert await _reconcile(e2e) == []
    assert await e2e.fetch("SELECT count(*) FROM bnmp_drift") == 0

    before_the_poller = datetime.now(UTC) - timedelta(days=2)
    bnmp.drift(digits(a.warrant_number), "Cumprido", at=before_the_poller)
    bnmp.revoke(digits(b.warrant_number), at=before_the_poller)
    bnmp.drift(digits(c.warrant_number), "Aguardando Cumprimento", at=before_the_poller)

    found = await _reconcile(e2e)
    assert {(d.kind, d.subject) for d in found} == {
        (DriftKind.CERTIFIED_NOT_REVOKED, release.order_number),
        (DriftKind.REVOKED_OPEN_IN_HUB, b.warrant_number),
        (DriftKind.HELD_WITHOUT_TITLE, c.warrant_number),
    }
    assert {d.court for d in found} == {release.issuing_court}
    assert await e2e.fetch("SELECT count(*) FROM bnmp_drift") == 3
    # the hub never heard of it: its own records stand
    assert await e2e.warrant_state(b.warrant_number) == "pending"
    assert await e2e.warrant_state(c.warrant_number) == "complied"
    gauge = {
        (s.labels["kind"], s.labels["court"]): s.value
        for m in metrics.BNMP_DRIFT.collect()
        for s in m.samples
        if s.labels["court"] != "-"  # each kind's zero sample
    }
    assert gauge == {(k.value, release.issuing_court): 1.0 for k in DriftKind}
