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
from hub.amqp.flow import BrokerFlow
from hub.amqp.publisher import Publisher, RabbitPublisher
from hub.clock import Clock
from hub.domain.audit import AuditEntry
from hub.domain.checkpoint import to_json
from hub.domain.topology import CONNECTORS, Topology, build_topology, in_queue, out_queue
from hub.ops import stats
from hub.ops.actions import Actions
from hub.ops.approvals import Approvals
from hub.ops.auth import Principal, Role
from hub.ops.bulk import BulkReplays
from hub.ops.models import (
    AckItem,
    Acknowledgements,
    AuditCheckpoint,
    AuditLine,
    BrokerStatus,
    ConnectorView,
    DeadLetterDetail,
    DeadLetterItem,
    DeadLetterPage,
    DeliveryAcks,
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
from hub.ops.views import FREE_TEXT_HIDDEN, present_body, scrub, shown_headers
from hub.settings import HubSettings
from hub.store import acks_repo, audit_repo, create_pool, ops_jobs, ops_letters, ops_stats
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
        flow: BrokerFlow | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.clock = clock
        self.topology = topology
        names = [q.name for q in topology.queues]
        self.admin = admin or RabbitAdmin(
            settings.rabbit.management_url,
            settings.rabbit.url,
            names,
            tls=settings.tls.client_context(),
        )
        consumed = consumed_queues
        if consumed is None:
            consumed = [in_queue(c) for c in CONNECTORS] + [
                out_queue(c) for c in ("bnmp", "court", "setarim")
            ]
        self.actions = Actions(pool, publisher, clock, topology.work_queues())
        self.bulk = BulkReplays(pool, self.actions, clock, settings.ops, consumed)
        self.approvals = Approvals(pool, self.actions, self.bulk, clock, settings.ops)
        self._probes = dict(probes or {})
        self._flow = flow  # the hub's broker flow, when served from the hub's process
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
            flow=getattr(hub, "flow", None),
        )

    @classmethod
    @asynccontextmanager
    async def standalone(cls, settings: HubSettings) -> AsyncIterator[OpsService]:
        """An ops service with its own pool and broker connection (closed on exit)."""
        s = settings
        pool = await create_pool(s.postgres)
        broker = make_broker(s.rabbit, tls=s.tls)
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
            acks = await acks_repo.counts(conn)
        self.collector.snapshot = Snapshot(report, counts, circuits, acks)
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

    async def acknowledgements(self, who: Principal) -> Acknowledgements:
        """Orders by state, pending and overdue deadlines (a viewer's without secret documents),
        time-to-compliance distribution."""
        async with self.pool.acquire() as conn:
            return await stats.acknowledgements(conn, self.clock(), hide_secret=_viewer(who))

    async def orders(
        self, who: Principal, state: str | None = None, limit: int = 100
    ) -> list[OrderSummary]:
        """Release orders (no personal data; for a viewer, no secret one), latest first."""
        async with self.pool.acquire() as conn:
            return await stats.list_orders(conn, state, limit, hide_secret=_viewer(who))

    async def timeline(self, subject: str, who: Principal) -> Timeline:
        """The timeline of one order or warrant; a secret (sigiloso) document's is absent for a
        viewer (R417 art.34): it answers as if nothing were known."""
        async with self.pool.acquire() as conn:
            if _viewer(who) and await ops_stats.is_secret(conn, subject):
                return stats.nothing_known(subject)
            return await stats.timeline(conn, subject)

    async def audit(
        self,
        who: Principal,
        *,
        operators_only: bool = True,
        subject: str | None = None,
        limit: int = 100,
    ) -> list[AuditLine]:
        """The latest audit entries (operators' actions by default; a viewer's without secret
        documents' entries)."""
        async with self.pool.acquire() as conn:
            return await stats.recent_audit(
                conn,
                operators_only=operators_only,
                subject=subject,
                limit=limit,
                hide_secret=_viewer(who),
            )

    async def checkpoints(self, *, after_seq: int = 0, limit: int = 1000) -> list[AuditCheckpoint]:
        """Signed checkpoints of the audit chain's head kept in the database, oldest first."""
        async with self.pool.acquire() as conn:
            found = await audit_repo.checkpoints(conn, after_seq=after_seq, limit=limit)
        return [AuditCheckpoint.model_validate(to_json(cp)) for cp in found]

    # ------------------------------------------------------------------ delivery acks, broker

    async def delivery_acks(self, *, alerted_only: bool = False, limit: int = 100) -> DeliveryAcks:
        """The technical acknowledgements still open (`hub.domain.acks`): counts and a list."""
        async with self.pool.acquire() as conn:
            acks = await acks_repo.counts(conn)
            items = await acks_repo.open_acks(conn, alerted_only=alerted_only, limit=limit)
        return DeliveryAcks(
            open=dict(acks.open),
            alerted=dict(acks.alerted),
            oldest_open_s=max(0.0, acks.oldest_open_s),
            items=[AckItem.model_validate(i) for i in items],
        )

    async def broker(self) -> BrokerStatus:
        """Whether RabbitMQ blocks the hub's publishing (a resource alarm), and its alarms."""
        flow = self._flow
        return BrokerStatus(
            blocked=flow.blocked if flow is not None else None,
            blocked_since=flow.blocked_since if flow is not None else None,
            alarms=await self.admin.alarms(),
        )

    # ------------------------------------------------------------------ dead letters

    async def dead_letters(
        self, f: DeadLetterFilter, who: Principal, limit: int = 50, before_id: int | None = None
    ) -> DeadLetterPage:
        """A page of dead letters (newest first) and how many match in all. A viewer sees no
        secret document's, searches identifiers only, and no error text."""
        viewer = _viewer(who)
        async with self.pool.acquire() as conn:
            items = await ops_letters.list_letters(conn, f, limit, before_id, viewer=viewer)
            total = await ops_letters.count_letters(conn, f, viewer=viewer)
        shown = [
            DeadLetterItem.model_validate(item).model_copy(
                update={"error_message": _free_text(item.error_message, who)}
            )
            for item in items
        ]
        return DeadLetterPage(total=total, items=shown)

    async def groups(self, f: DeadLetterFilter, who: Principal) -> list[LetterGroup]:
        """Dead letters grouped by error type, reason, connector and kind (for a viewer, without
        secret documents')."""
        async with self.pool.acquire() as conn:
            found = await ops_letters.group_letters(conn, f, viewer=_viewer(who))
        return [LetterGroup.model_validate(g) for g in found]

    async def _letter(self, letter_id: int, who: Principal) -> DeadLetter | None:
        async with self.pool.acquire() as conn:
            row = await ops_letters.get_letter(conn, letter_id)
            if row is None or not _viewer(who):
                return row
            secret = row.secrecy == "secret" or (
                row.correlation_id is not None
                and await ops_stats.is_secret(conn, row.correlation_id)
            )
        return None if secret else row

    async def dead_letter(self, letter_id: int, who: Principal) -> DeadLetterDetail | None:
        """One dead letter as `who` may see it: the body through the allowlist, headers through
        theirs, the error's text scrubbed (hidden from a viewer); a secret document's is absent
        for a viewer. An admin sees it all only through `reveal`."""
        row = await self._letter(letter_id, who)
        if row is None:
            return None
        return await self._detail(row, who, revealed=False)

    async def reveal(self, letter_id: int, who: Principal, reason: str) -> DeadLetterDetail | None:
        """One dead letter as it is, for an admin who gives a reason; audited (in the same
        transaction as the read) as `dead_letter.revealed`."""
        if not who.may(Role.ADMIN):
            raise PermissionError("only an admin reveals a dead letter")
        async with self.pool.acquire() as conn, conn.transaction():
            row = await ops_letters.get_letter(conn, letter_id)
            if row is None:
                return None
            detail = {"id": row.id, "role": who.role.label, "reason": reason}
            subject = row.correlation_id or "-"
            entry = AuditEntry(self.clock(), who.actor, "dead_letter.revealed", subject, detail)
            await audit_repo.append(conn, [entry])
        return await self._detail(row, who, revealed=True)

    async def _detail(self, row: DeadLetter, who: Principal, *, revealed: bool) -> DeadLetterDetail:
        verdict = await self.actions.preview(row)
        shown = DeadLetterItem.model_validate(row).model_dump(exclude={"error_message"})
        headers = row.headers or {}
        return DeadLetterDetail(
            **shown,
            error_message=row.error_message if revealed else _free_text(row.error_message, who),
            trace=row.trace if revealed else _free_text(row.trace, who),
            headers=dict(headers) if revealed else shown_headers(headers, free_text=_free(who)),
            body=present_body(bytes(row.body), unmasked=revealed),
            verdict=VerdictView(allowed=verdict.allowed, code=verdict.code, why=verdict.why),
        )

    async def jobs(self, limit: int = 50) -> list[ReplayJob]:
        """The latest replay jobs with their progress."""
        async with self.pool.acquire() as conn:
            found = await ops_jobs.list_jobs(conn, limit)
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
            acks = await acks_repo.counts(conn)
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
            acks_open=sum(acks.open.values()),
            acks_alerted=sum(acks.alerted.values()),
        )


def _viewer(who: Principal) -> bool:
    """Whether `who` reads as a viewer: no secret document, no free text (R417 art.34)."""
    return not who.may(Role.OPERATOR)


def _free(who: Principal) -> bool:
    """Whether `who` reads an error's own words (scrubbed): operators and admins."""
    return who.may(Role.OPERATOR)


def _free_text(text: str, who: Principal) -> str:
    """An error's own words: hidden from a viewer (an upstream system may echo a name in them),
    scrubbed of CPF-shaped text for the others."""
    return scrub(text) if who.may(Role.OPERATOR) else FREE_TEXT_HIDDEN


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
