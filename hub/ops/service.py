"""The ops service: everything the dashboard, the API and the CLI read, and the actions they take.

`OpsService.from_hub(hub)` shares a running hub's pool, publisher and clock (the demo serves
`create_app(OpsService.from_hub(hub))` from the hub process); `OpsService.standalone(settings)`
opens its own for `python -m hub ops` and the CLI.

External systems are probed through their connector: a `ConnectorSpec` whose `probe` is an
async callable taking the hub's resources (an HTTP client, settings...) and raising when the system
does not answer. Probes run at most every `ops.probe_every_s` and are cached in between.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

import asyncpg
from prometheus_client import CollectorRegistry

from hub import metrics
from hub.amqp.declare import make_broker
from hub.amqp.publisher import Publisher, RabbitPublisher
from hub.clock import Clock
from hub.domain.audit import AuditEntry
from hub.domain.topology import CONNECTORS, Topology, build_topology, in_queue, out_queue
from hub.ops import stats
from hub.ops.actions import Actions
from hub.ops.auth import Principal, Role
from hub.ops.bulk import BulkReplays
from hub.ops.models import (
    Acknowledgements,
    AuditLine,
    ConnectorView,
    DeadLetterDetail,
    DeadLetterItem,
    DeadLetterPage,
    LetterGroup,
    NoProbe,
    OrderSummary,
    Overview,
    ProbeResult,
    Queues,
    QueueTotals,
    QueueView,
    ReplayJob,
    Timeline,
    VerdictView,
)
from hub.ops.prom import OpsCollector, Snapshot, exposition
from hub.ops.rabbit_admin import QueueStats, RabbitAdmin
from hub.ops.search import DeadLetterFilter
from hub.ops.views import present_body, scrub, scrub_headers
from hub.settings import HubSettings
from hub.store import audit_repo, create_pool, ops_jobs, ops_letters, ops_stats
from hub.store.ops_letters import DeadLetter

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["OpsService", "Probe"]

Probe = Callable[[], Awaitable[object]]
_PROBE_TIMEOUT_S = 5.0
_CALLED = ("bnmp", "court", "setarim")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OpsService:
    """Reads for the dashboard, plus `actions` (one dead letter) and `bulk` (staged replays)."""

    def __init__(
        self,
        settings: HubSettings,
        pool: asyncpg.Pool,
        publisher: Publisher,
        topology: Topology,
        *,
        clock: Clock = _utc_now,
        consumed_queues: Collection[str] | None = None,
        probes: Mapping[str, Probe] | None = None,
        admin: RabbitAdmin | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.clock = clock
        self.topology = topology
        names = [q.name for q in topology.queues]
        self.admin = admin or RabbitAdmin(
            settings.rabbit.management_url, settings.rabbit.url, names
        )
        consumed = consumed_queues
        if consumed is None:
            consumed = [in_queue(c) for c in CONNECTORS] + [
                out_queue(c) for c in ("bnmp", "court", "setarim")
            ]
        self.actions = Actions(pool, publisher, clock, topology.work_queues())
        self.bulk = BulkReplays(pool, self.actions, clock, settings.ops, consumed)
        self._probes = dict(probes or {})
        self._probed: dict[str, ProbeResult] = {}
        self._probed_at = -1e9
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = OpsCollector()
        self.registry.register(self.collector)

    @classmethod
    def from_hub(cls, hub: Hub, probes: Mapping[str, Probe] | None = None) -> OpsService:
        """The ops service of a running hub (same pool, publisher, clock and topology).

        Probes are `probes` plus, for each connector spec with a callable `probe` attribute,
        that callable bound to the hub's resources.
        """
        found: dict[str, Probe] = {}
        for name, spec in hub.specs.items():
            make = getattr(spec, "probe", None)
            if callable(make):
                found[name] = partial(make, hub.resources)
        consumed = [in_queue(c) for c in CONNECTORS] + list(getattr(hub, "deliveries", {}))
        return cls(
            hub.settings,
            hub.pool,
            hub.publisher,
            hub.topology,
            clock=hub.clock,
            consumed_queues=consumed,
            probes={**found, **(probes or {})},
        )

    @classmethod
    @asynccontextmanager
    async def standalone(cls, settings: HubSettings) -> AsyncIterator[OpsService]:
        """An ops service with its own pool and broker connection (closed on exit)."""
        s = settings
        pool = await create_pool(s.postgres)
        broker = make_broker(s.rabbit)
        try:
            await broker.connect()
            topology = build_topology(s.units, s.retry.ladder_s, s.rabbit.delivery_limit)
            ops = cls(s, pool, RabbitPublisher(broker, s.rabbit.confirm_timeout_s), topology)
            try:
                yield ops
            finally:
                await ops.aclose()
        finally:
            await broker.stop()
            await pool.close()

    async def aclose(self) -> None:
        """Stop background replay jobs and close the management API client."""
        await self.bulk.aclose()
        await self.admin.aclose()

    # ------------------------------------------------------------------ health and metrics

    async def healthy(self) -> bool:
        """Whether PostgreSQL answers."""
        try:
            return await ops_stats.ping(self.pool)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False

    async def metrics_text(self) -> bytes:
        """Refresh the gauges and render every metric in the Prometheus text format."""
        report = await self.admin.queues()
        async with self.pool.acquire() as conn:
            counts = await stats.gauges(conn, self.clock())
            circuits = await ops_stats.connector_health(conn)
        self.collector.snapshot = Snapshot(report, counts, circuits)
        return exposition(self.registry)

    # ------------------------------------------------------------------ queues and connectors

    async def queues(self) -> Queues:
        """Every queue's depth, consumers and rates, the retry ladder, and the numbers' source."""
        report = await self.admin.queues()
        rows = [_queue_view(q) for q in report.queues]
        known = [q for q in report.queues if q.ready is not None]
        unacked = sum(q.unacked or 0 for q in known) if report.source == "management" else None
        return Queues(
            source=report.source,
            problem=report.problem,
            queues=rows,
            ladder=[r for r in rows if r.role == "retry"],
            totals=QueueTotals(ready=sum(q.ready or 0 for q in known), unacked=unacked),
        )

    async def probe(self, *, force: bool = False) -> dict[str, ProbeResult]:
        """Run every connector's synthetic probe (at most every `probe_every_s` unless forced)."""
        if force or time.monotonic() - self._probed_at >= self.settings.ops.probe_every_s:
            self._probed_at = time.monotonic()
            names = sorted(self._probes)
            results = await asyncio.gather(*(self._probe_one(n) for n in names))
            self._probed = dict(zip(names, results, strict=True))
        return self._probed

    async def _probe_one(self, name: str) -> ProbeResult:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self._probes[name](), _PROBE_TIMEOUT_S)
        except Exception as e:  # any failure of the external system is the probe's answer
            error = scrub(f"{type(e).__name__}: {e}")[:200]
            return ProbeResult(ok=False, at=self.clock(), latency_ms=None, error=error)
        latency = round((time.perf_counter() - started) * 1000, 1)
        return ProbeResult(ok=True, at=self.clock(), latency_ms=latency, error=None)

    async def connectors(self, *, force_probe: bool = False) -> list[ConnectorView]:
        """Per connector: last success, error rate, backlog, circuit, probe, queue consumers."""
        async with self.pool.acquire() as conn:
            activity = await ops_stats.connector_activity(conn, stats.window(self.clock()))
            circuits = await ops_stats.connector_health(conn)
        probes = await self.probe(force=force_probe)
        report = await self.admin.queues()
        return [
            _connector_view(
                name, activity.get(name), circuits.get(name), probes.get(name), report.queues
            )
            for name in CONNECTORS
        ]

    # ------------------------------------------------------------------ acknowledgements

    async def acknowledgements(self) -> Acknowledgements:
        """Orders by state, pending and overdue deadlines, time-to-compliance distribution."""
        async with self.pool.acquire() as conn:
            return await stats.acknowledgements(conn, self.clock())

    async def orders(self, state: str | None = None, limit: int = 100) -> list[OrderSummary]:
        """Release orders (no personal data), latest first."""
        async with self.pool.acquire() as conn:
            return await stats.list_orders(conn, state, limit)

    async def timeline(self, subject: str) -> Timeline:
        """The timeline of one order or warrant."""
        async with self.pool.acquire() as conn:
            return await stats.timeline(conn, subject)

    async def audit(
        self, *, operators_only: bool = True, subject: str | None = None, limit: int = 100
    ) -> list[AuditLine]:
        """The latest audit entries (operators' actions by default)."""
        async with self.pool.acquire() as conn:
            return await stats.recent_audit(
                conn, operators_only=operators_only, subject=subject, limit=limit
            )

    # ------------------------------------------------------------------ dead letters

    async def dead_letters(
        self, f: DeadLetterFilter, limit: int = 50, before_id: int | None = None
    ) -> DeadLetterPage:
        """A page of dead letters (newest first) and how many match in all."""
        async with self.pool.acquire() as conn:
            items = await ops_letters.list_letters(conn, f, limit, before_id)
            total = await ops_letters.count_letters(conn, f)
        shown = [
            DeadLetterItem.model_validate(item).model_copy(
                update={"error_message": scrub(item.error_message)}
            )
            for item in items
        ]
        return DeadLetterPage(total=total, items=shown)

    async def groups(self, f: DeadLetterFilter) -> list[LetterGroup]:
        """Dead letters grouped by error type, reason, connector and kind."""
        async with self.pool.acquire() as conn:
            found = await ops_letters.group_letters(conn, f)
        return [LetterGroup.model_validate(g) for g in found]

    async def dead_letter(self, letter_id: int, who: Principal) -> DeadLetterDetail | None:
        """One dead letter; masked below admin, and an admin's unmasked view is audited."""
        async with self.pool.acquire() as conn:
            row = await ops_letters.get_letter(conn, letter_id)
        if row is None:
            return None
        verdict = await self.actions.preview(row)
        admin = who.may(Role.ADMIN)
        if admin:
            await self._audit_view(row, who)
        shown = DeadLetterItem.model_validate(row).model_dump(exclude={"error_message"})
        return DeadLetterDetail(
            **shown,
            error_message=row.error_message if admin else scrub(row.error_message),
            trace=row.trace if admin else scrub(row.trace),
            headers=row.headers if admin else scrub_headers(row.headers or {}),
            body=present_body(bytes(row.body), unmasked=admin),
            verdict=VerdictView(allowed=verdict.allowed, code=verdict.code, why=verdict.why),
        )

    async def _audit_view(self, row: DeadLetter, who: Principal) -> None:
        detail = {"id": row.id, "role": who.role.label, "unmasked": True}
        entry = AuditEntry(
            self.clock(), who.actor, "dead_letter.viewed", row.correlation_id or "-", detail
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await audit_repo.append(conn, [entry])

    async def jobs(self) -> list[ReplayJob]:
        """The latest replay jobs with their progress."""
        async with self.pool.acquire() as conn:
            found = await ops_jobs.list_jobs(conn)
        return [ReplayJob.model_validate(j) for j in found]

    async def job(self, job_id: int) -> ReplayJob | None:
        """One replay job with its progress."""
        async with self.pool.acquire() as conn:
            found = await ops_jobs.get_job(conn, job_id)
        return ReplayJob.model_validate(found) if found is not None else None

    async def overview(self) -> Overview:
        """The numbers of the dashboard's top cards."""
        async with self.pool.acquire() as conn:
            counts = await stats.gauges(conn, self.clock())
        return Overview(
            dead_letters_parked=sum(
                n for _c, status, n in counts.dead_letters if status == "parked"
            ),
            deadlines_open=sum(n for _k, n, _o in counts.deadlines),
            deadlines_overdue=sum(n for _k, _o, n in counts.deadlines),
            orders=dict(counts.orders),
            outbox_backlog=counts.outbox_unconfirmed,
            outbox_oldest_s=counts.outbox_oldest_s,
            replay_jobs_active=counts.replay_jobs_active,
        )


def _queue_view(q: QueueStats) -> QueueView:
    return QueueView.model_validate(q)  # its `role` is a property


def _retried_here(name: str) -> int:
    total = 0.0
    for family in metrics.RETRIED.collect():
        for sample in family.samples:
            queue = sample.labels.get("queue", "")
            if sample.name.endswith("_total") and queue.startswith(f"hub.{name}."):
                total += sample.value
    return int(total)


def _connector_view(
    name: str,
    activity: ops_stats.ConnectorActivity | None,
    circuit: ops_stats.Circuit | None,
    probe: ProbeResult | None,
    queues: Collection[QueueStats],
) -> ConnectorView:
    done = activity or ops_stats.ConnectorActivity()
    processed, failed = done.processed, done.dead_lettered
    mine = [q for q in queues if q.name.startswith(f"hub.{name}.") and q.role != "dlq"]
    last = [t for t in (done.last_processed, circuit.last_success if circuit else None) if t]
    return ConnectorView(
        name=name,
        last_success=max(last) if last else None,
        processed_1h=processed,
        dead_lettered_1h=failed,
        error_rate_1h=round(failed / (processed + failed), 4) if processed + failed else 0.0,
        parked=done.parked,
        circuit=circuit.state if circuit else "unknown",
        down_since=circuit.down_since if circuit else None,
        deferred=int(circuit.deferred or 0) if circuit else 0,
        retried_here=_retried_here(name),
        probe=probe or NoProbe(),
        queues=[_queue_view(q) for q in mine],
    )
