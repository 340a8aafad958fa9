"""Composition root: the running hub, built from settings.

`Hub` wires a FastStream broker (one router per connector), the PostgreSQL pool, the batching
engine, the consumer that settles each message, the outbox relay, the dead-letter parkers and the
deadline scanner. Nothing else in the hub builds these objects.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import structlog
from aio_pika.abc import AbstractIncomingMessage
from faststream import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitMessage, RabbitRouter

import connectors
from connectors.bnmp.reconcile import fetcher as bnmp_fetcher
from hub.amqp.declare import declare, make_broker, rabbit_queue
from hub.amqp.flow import BrokerFlow
from hub.amqp.heal import Healer
from hub.amqp.intake import Intake, WorkQueue
from hub.amqp.publisher import Publisher, RabbitPublisher
from hub.clock import Clock
from hub.connector import ConnectorSpec, DeliverFactory, Resources, Verify, VerifyFactory
from hub.domain.acks import AckPolicy as DestinationPolicy
from hub.domain.circuit import CircuitPolicy
from hub.domain.decide import Directory, decide
from hub.domain.retry import RetryPolicy
from hub.domain.topology import CONNECTORS, Connector, Topology, build_topology, in_queue, out_queue
from hub.pipeline import deadlines as ledger
from hub.pipeline.bnmp_reconcile import run_bnmp_reconcile
from hub.pipeline.checkpoints import checkpoint_once, load_signer, run_checkpointer
from hub.pipeline.consumer import Consumer
from hub.pipeline.delivery import Deliveries, run_drainer
from hub.pipeline.engine import Engine
from hub.pipeline.outbox import run_relay
from hub.pipeline.parker import consume_dead_letter
from hub.pipeline.reconciler import run_reconciler
from hub.settings import HubSettings
from hub.store import create_pool

__all__ = ["Hub", "settle_heap", "utc_now"]

_BROKER_STOP_S = 5.0

log = structlog.get_logger("hub.app")


async def whole_message(message: RabbitMessage) -> RabbitMessage:
    """FastStream's decoder for every hub queue: the handler gets the message itself, untouched.

    The default decoder would `json.loads` an `application/json` body before any hub code runs, and
    a body that is not JSON would be rejected there, before the hub could record why. The broker
    runs without dependency injection (`hub.amqp.declare.make_broker`), so what the decoder
    returns is the handler's only argument.
    """
    return message


def utc_now() -> datetime:
    """The real clock (tests and the demo inject their own)."""
    return datetime.now(UTC)


class Hub:
    """The running hub. Use `async with Hub(settings, ...) as hub:`."""

    def __init__(
        self,
        settings: HubSettings,
        *,
        specs: Sequence[ConnectorSpec] | None = None,
        clock: Clock = utc_now,
        directory: Directory | None = None,
        background: bool = True,
        circuit: CircuitPolicy | None = None,
        wrap_publisher: Callable[[Publisher], Publisher] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.specs = {s.name: s for s in (connectors.SPECS if specs is None else specs)}
        self.resources: Resources  # built by `start`, with the HTTP client
        self.directory = directory or Directory(
            units=frozenset(settings.units),
            competence=settings.security.competence,
            person_key_secret=settings.security.person_key_secret.get_secret_value().encode(),
        )
        self.topology: Topology = build_topology(
            settings.units, settings.retry.ladder_s, settings.rabbit.delivery_limit
        )
        self.broker: RabbitBroker = make_broker(settings.rabbit, tls=settings.tls)
        self._background = background
        self.circuit_policy = circuit or CircuitPolicy()
        self._tasks: list[asyncio.Task[None]] = []
        self.signer = load_signer(settings.audit)  # a bad key stops the hub here
        self.pool: asyncpg.Pool
        self.engine: Engine
        self.consumer: Consumer
        # The broker's flow control (resource alarms pause the hub) and the topology's healer.
        self.flow = BrokerFlow()
        self.healer = Healer(self.broker.connect, self.topology, self.flow)
        publisher: Publisher = RabbitPublisher(
            self.broker, settings.rabbit.confirm_timeout_s, flow=self.flow
        )
        self.publisher = wrap_publisher(publisher) if wrap_publisher else publisher
        self._factories: dict[Connector, DeliverFactory] = {}
        self.deliveries: dict[str, Deliveries] = {}
        self._verifier_factories: dict[str, VerifyFactory] = {}
        self.verifiers: dict[str, Verify] = {}
        self.work: list[WorkQueue] = []
        self.intake = Intake(
            settings.rabbit.prefetch,
            flow=self.flow,
            on_cancel=lambda queue: self.healer.poke(f"the broker cancelled {queue}'s consumer"),
        )
        for router in self._routers():
            self.broker.include_router(router)

    # ------------------------------------------------------------------ wiring

    def _routers(self) -> list[RabbitRouter]:
        """FastStream routers for the dead-letter parkers (the work queues: `hub.amqp.intake`)."""
        routers = []
        for name in CONNECTORS:
            spec = self.specs.get(name) or ConnectorSpec(name, frozenset())
            kinds = ", ".join(sorted(spec.accepts)) or "none"
            self._work(
                in_queue(name),
                accepts=spec.accepts,
                about=f"{spec.description} The hub consumes what they send: {kinds}.",
            )
            if spec.verify is not None:
                self._verifier_factories[in_queue(name)] = spec.verify
            if spec.deliver is not None:
                self._work(
                    out_queue(name),
                    accepts=(),
                    about=f"The hub delivers these to {name} over its API.",
                )
                self._factories[name] = spec.deliver
            router = RabbitRouter()
            self._subscribe_dlq(router, name)
            routers.append(router)
        return routers

    def _work(self, queue: str, *, accepts: Any, about: str) -> None:
        async def handle(message: AbstractIncomingMessage) -> None:
            await self.consumer.consume(
                message,
                queue,
                accepts=accepts,
                deliveries=self.deliveries.get(queue),
                verify=self.verifiers.get(queue),
            )

        arguments = self.topology.queue(queue).arguments
        self.work.append(WorkQueue(queue, handle, about, arguments))

    def _subscribe_dlq(self, router: RabbitRouter, connector: Any) -> None:
        q = rabbit_queue(self.topology.queue(f"hub.{connector}.dlq"))

        async def park(message: RabbitMessage) -> None:
            await consume_dead_letter(
                self.pool, self.clock, connector, message, self.settings.hub_logins
            )

        park.__doc__ = f"Park the dead letters of {connector} in PostgreSQL."
        # NACK, not REJECT, on an unexpected error: a DLQ has no DLX, so a reject would drop it.
        router.subscriber(
            q, ack_policy=AckPolicy.NACK_ON_ERROR, title=q.name, decoder=whole_message
        )(park)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Migrate, declare the topology, start the engine, consumers and background loops."""
        self.pool = await create_pool(self.settings.postgres)
        self.engine = Engine(
            self.pool,
            self.publisher,
            self.settings.engine,
            self.clock,
            decider=lambda env, view, now, actor: decide(env, view, now, self.directory, actor),
        )
        self.consumer = Consumer(
            self.engine,
            self.publisher,
            RetryPolicy(self.settings.retry.ladder_s),
            self.clock,
            hub_logins=self.settings.hub_logins,
            max_bytes=self.settings.rabbit.max_message_bytes,
        )
        self.http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=200), verify=self.settings.tls.client_context()
        )
        self.resources = Resources(
            settings=self.settings, http=self.http, publisher=self.publisher, clock=self.clock
        )
        await self._build_connectors()
        await self.broker.connect()
        await declare(self.broker, self.topology)
        await self.engine.start()
        await self.broker.start()
        await self.intake.start(await self.broker.connect(), self.work)
        poll = self.settings.acks.blocked_poll_s
        self._spawn(self.flow.watch(self.broker.connect, every_s=poll), "broker-flow")
        if self._background:
            self._start_background()
        log.info("hub.started", units=len(self.settings.units))

    async def _build_connectors(self) -> None:
        self.verifiers = {q: make(self.resources) for q, make in self._verifier_factories.items()}
        for name, make in self._factories.items():
            d = Deliveries(
                name,
                make(self.resources),
                self.engine,
                self.pool,
                self.clock,
                self.consumer.settle,
                self.circuit_policy,
            )
            await d.load()
            self.deliveries[out_queue(name)] = d

    def _start_background(self) -> None:
        engine = self.settings.engine
        relay = run_relay(
            self.pool,
            self.publisher,
            every_s=engine.outbox_sweep_s,
            grace_s=engine.outbox_grace_s,
            flow=self.flow,
        )
        self._spawn(relay, "outbox-relay")
        self._start_acks()
        for d in self.deliveries.values():
            self._spawn(run_drainer(d, every_s=0.2), f"drain-{d.connector}")
        for spec in self.specs.values():
            for task in spec.tasks:
                self._spawn(task(self.resources), f"{spec.name}-{task.__name__}")
        self._spawn(
            ledger.run_scanner(self.engine, self.pool, self.clock, every_s=1.0), "deadlines"
        )
        self._start_checkpoints()
        self._start_bnmp_reconcile()

    def _start_bnmp_reconcile(self) -> None:
        """Reconcile the hub's records with BNMP's, the register of record, on a schedule (when
        the BNMP connector runs in this process)."""
        if "bnmp" not in self.specs:
            return
        bnmp = self.settings.bnmp
        loop = run_bnmp_reconcile(
            self.pool,
            bnmp_fetcher(bnmp, self.http),
            self.clock,
            every_s=bnmp.reconcile_every_s,
            window=timedelta(days=bnmp.reconcile_window_days),
        )
        self._spawn(loop, "bnmp-reconcile")

    def _start_acks(self) -> None:
        """Heal the topology on a signal and a schedule; reconcile unacknowledged destinations."""
        acks = self.settings.acks
        self._spawn(self.healer.run(every_s=acks.heal_every_s), "topology-healer")
        reconciler = run_reconciler(
            self.pool,
            self.publisher,
            self.healer,
            self.flow,
            self.ack_policy,
            every_s=acks.reconcile_every_s,
            limit=acks.reconcile_limit,
        )
        self._spawn(reconciler, "ack-reconciler")

    @property
    def ack_policy(self) -> DestinationPolicy:
        """How long destinations may stay unacknowledged, and how often to try (settings)."""
        acks = self.settings.acks
        return DestinationPolicy(
            hub_window=timedelta(seconds=acks.hub_window_s),
            receipt_window=timedelta(seconds=acks.receipt_window_s),
            answer_window=timedelta(seconds=acks.answer_window_s),
            max_tries=acks.max_tries,
        )

    def _start_checkpoints(self) -> None:
        """Sign the audit chain's head now and then (`hub.pipeline.checkpoints`), or say loudly
        that nothing protects the chain from a rewrite by someone who can write to the database."""
        audit = self.settings.audit
        if self.signer is None:
            log.error(
                "audit.checkpoints_off",
                why="no checkpoint key (HUB_AUDIT__CHECKPOINT_KEY or _KEY_FILE): a rewrite of the"
                " audit chain by someone who can write to the database would verify",
            )
            return
        if audit.checkpoint_file is None:
            log.warning(
                "audit.checkpoints_in_database_only",
                why="no HUB_AUDIT__CHECKPOINT_FILE: checkpoints are kept where a superuser can"
                " delete them; fetch them from the ops API and keep them elsewhere",
            )
        log.info(
            "audit.checkpoints_on", key_id=self.signer.key_id, every_s=audit.checkpoint_every_s
        )
        loop = run_checkpointer(
            self.pool,
            self.signer,
            self.clock,
            audit.checkpoint_file,
            every_s=audit.checkpoint_every_s,
        )
        self._spawn(loop, "audit-checkpoints")

    async def _last_checkpoint(self) -> None:
        """At a clean stop, sign the head the stopped engine left (bounded; logged if it fails)."""
        if self.signer is None or not self._background:
            return
        try:
            async with asyncio.timeout(_BROKER_STOP_S):
                await checkpoint_once(
                    self.pool, self.signer, self.clock, self.settings.audit.checkpoint_file
                )
        except Exception as e:  # the stop goes on; the next start signs this head
            log.warning("audit.last_checkpoint_failed", error=type(e).__name__)

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        """Stop consuming, let the engine finish its batches, then close everything."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.intake.stop()
        try:
            # A broker that stopped answering (packets dropped, not refused) would hold this until
            # the AMQP heartbeat gives the connection up; what is unsettled comes back anyway.
            async with asyncio.timeout(_BROKER_STOP_S):
                await self.broker.stop()
        except TimeoutError:
            log.warning("broker.stop_abandoned", after_s=_BROKER_STOP_S)
        self.flow.release()  # publishes held by a resource alarm fail now: the relay's, next start
        await self.engine.stop()
        await self._last_checkpoint()
        await self.http.aclose()
        await self.pool.close()
        log.info("hub.stopped")

    async def __aenter__(self) -> Hub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def settle_heap() -> None:
    """Once a long-running process has started: collect, then put every object alive out of the
    cyclic collector's reach (`gc.freeze`), so that a full collection walks only what was made
    since, not the modules, models and topology loaded at start-up. A full collection of the
    started hub took up to 64 ms (measured at 300 msg/s), a stall every message in flight waits
    out: most of the p99 of a hop. Not done by `Hub.start`: a test process starts many hubs.
    """
    gc.collect()
    gc.freeze()
