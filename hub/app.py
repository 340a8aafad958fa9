"""Composition root: the running hub, built from settings.

`Hub` wires a FastStream broker (one router per connector), the PostgreSQL pool, the batching
engine, the consumer that settles each message, the outbox relay, the dead-letter parkers and the
deadline scanner. Nothing else in the hub builds these objects.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import structlog
from aio_pika.abc import AbstractIncomingMessage
from faststream import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitMessage, RabbitRouter

import connectors
from hub.amqp.declare import declare, make_broker, rabbit_queue
from hub.amqp.intake import Intake, WorkQueue
from hub.amqp.publisher import Publisher, RabbitPublisher
from hub.clock import Clock
from hub.connector import ConnectorSpec, DeliverFactory, Resources, Verify, VerifyFactory
from hub.domain.circuit import CircuitPolicy
from hub.domain.decide import Directory, decide
from hub.domain.retry import RetryPolicy
from hub.domain.topology import CONNECTORS, Connector, Topology, build_topology, in_queue, out_queue
from hub.pipeline import deadlines as ledger
from hub.pipeline.consumer import Consumer
from hub.pipeline.delivery import Deliveries, run_drainer
from hub.pipeline.engine import Engine
from hub.pipeline.outbox import run_relay
from hub.pipeline.parker import consume_dead_letter
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
        self.directory = directory or Directory(units=frozenset(settings.units))
        self.topology: Topology = build_topology(
            settings.units, settings.retry.ladder_s, settings.rabbit.delivery_limit
        )
        self.broker: RabbitBroker = make_broker(settings.rabbit)
        self._background = background
        self.circuit_policy = circuit or CircuitPolicy()
        self._tasks: list[asyncio.Task[None]] = []
        self.pool: asyncpg.Pool
        self.engine: Engine
        self.consumer: Consumer
        publisher: Publisher = RabbitPublisher(self.broker, settings.rabbit.confirm_timeout_s)
        self.publisher = wrap_publisher(publisher) if wrap_publisher else publisher
        self._factories: dict[Connector, DeliverFactory] = {}
        self.deliveries: dict[str, Deliveries] = {}
        self._verifier_factories: dict[str, VerifyFactory] = {}
        self.verifiers: dict[str, Verify] = {}
        self.work: list[WorkQueue] = []
        self.intake = Intake(settings.rabbit.prefetch)
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

        self.work.append(WorkQueue(queue, handle, about))

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
            decider=lambda env, view, now: decide(env, view, now, self.directory),
        )
        self.consumer = Consumer(
            self.engine,
            self.publisher,
            RetryPolicy(self.settings.retry.ladder_s),
            self.clock,
            hub_logins=self.settings.hub_logins,
        )
        self.http = httpx.AsyncClient(limits=httpx.Limits(max_connections=200))
        self.resources = Resources(
            settings=self.settings, http=self.http, publisher=self.publisher, clock=self.clock
        )
        await self._build_connectors()
        await self.broker.connect()
        await declare(self.broker, self.topology)
        await self.engine.start()
        await self.broker.start()
        await self.intake.start(await self.broker.connect(), self.work)
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
            self.pool, self.publisher, every_s=engine.outbox_sweep_s, grace_s=engine.outbox_grace_s
        )
        self._spawn(relay, "outbox-relay")
        for d in self.deliveries.values():
            self._spawn(run_drainer(d, every_s=0.2), f"drain-{d.connector}")
        for spec in self.specs.values():
            for task in spec.tasks:
                self._spawn(task(self.resources), f"{spec.name}-{task.__name__}")
        self._spawn(
            ledger.run_scanner(self.engine, self.pool, self.clock, every_s=1.0), "deadlines"
        )

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
        await self.engine.stop()
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
