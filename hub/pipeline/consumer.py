"""The one place that decides a consumed message's fate: ack, delayed retry, dead letter, requeue.

Handlers never ack. They give `Consumer.consume` the raw message and, for an outbound queue, the
`Deliveries` that call the external system. Then:

* success → return, and `hub.amqp.intake` acks (after the engine's commit and confirms);
* the external system is down and its circuit open → the delivery is deferred (kept in order in
  PostgreSQL) and acked; the drainer makes it when the system returns;
* transient error → the message is republished to the next rung of the retry ladder with the attempt
  count in `x-hub-attempt` (our header; `x-death` is not relied on), then acked;
* permanent error or contract violation → republished to the connector's dead-letter queue with the
  error's type, reason, message and trace in headers, then acked;
* the hub could not record either (broker trouble) → nack with requeue; the quorum queue's delivery
  limit dead-letters a message that keeps coming back, so nothing loops for ever.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog
from aio_pika.abc import AbstractIncomingMessage

from contracts import ContractError, Envelope, parse_envelope
from hub import metrics
from hub.amqp.publisher import Publisher
from hub.clock import Clock
from hub.connector import Inbound, Verify
from hub.domain.authority import Actor
from hub.domain.outgoing import DISTRIBUTION_HEADERS, Outgoing
from hub.domain.retry import ATTEMPT_HEADER, Decision, RetryPolicy, attempts_from
from hub.domain.rows import Deferred
from hub.domain.sender import NOBODY, Sender, arrive
from hub.domain.topology import DLX, RETRY_EXCHANGE, RETRY_LEVEL_HEADER, connector_of, retry_label
from hub.errors import PublishFailed, Requeue
from hub.pipeline.delivered import Postponed
from hub.pipeline.engine import Engine, Job, as_hub_error

if TYPE_CHECKING:
    from hub.pipeline.delivery import Deliveries

__all__ = ["ACTOR_HEADER", "ERROR_HEADERS", "Consumer", "Received"]

log = structlog.get_logger("hub.consumer")

_MAX_HEADERS = 16_384  # bytes of a consumed message's headers, as JSON
_CARRIED_PREFIXES = ("x-hub-", "x-court-")
_MAX_CARRIED_VALUE = 1024
TRUNCATED_HEADER = "x-hub-body-truncated-from"  # on a dead letter: the body's size before
ACTOR_HEADER = "x-hub-actor"  # on a dead letter: the authenticated party behind the message
ERROR_HEADERS = (
    "x-hub-error-type",
    "x-hub-error-reason",
    "x-hub-error-message",
    "x-hub-error-trace",
    "x-hub-failed-queue",
    "x-hub-failed-at",
)
_TRACE_LIMIT = 4000


@dataclass(frozen=True)
class Received:
    """A message as consumed from `queue`: body, headers and the AMQP properties the hub keeps."""

    queue: str
    body: bytes
    headers: Mapping[str, Any]  # the ones the hub believes (`hub.domain.sender.arrive`)
    message_id: str | None
    correlation_id: str | None
    kind: str | None
    sender: Sender = NOBODY  # established on first receipt, carried since

    @classmethod
    def of(
        cls, message: AbstractIncomingMessage, queue: str, hub_logins: Collection[str]
    ) -> Received:
        """Take what the hub needs from a delivered message, and who sent it.

        A message from outside loses the `x-hub-*` headers it carried and gains its sender, as
        the broker vouches for it; one the hub published keeps its headers and carried sender.
        """
        arrival = arrive(
            {k: v for k, v in message.headers.items() if k not in DISTRIBUTION_HEADERS},
            message.user_id,
            message.exchange,
            hub_logins,
        )
        return cls(
            queue,
            message.body,
            arrival.headers,
            message.message_id,
            message.correlation_id,
            message.type,
            arrival.sender,
        )

    @property
    def attempts(self) -> int:
        """Delayed retries already made (our own header; anything else counts as none)."""
        return attempts_from(self.headers.get(ATTEMPT_HEADER))


class Consumer:
    """Runs a consumed message through parse → (deliver) → engine, and settles its fate."""

    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        policy: RetryPolicy,
        clock: Clock,
        *,
        hub_logins: Collection[str],
        max_bytes: int = 1_048_576,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._policy = policy
        self._clock = clock
        self._hub_logins = frozenset(hub_logins)
        self._max_bytes = max_bytes

    async def consume(
        self,
        message: AbstractIncomingMessage,
        queue: str,
        *,
        accepts: Collection[str] = (),
        deliveries: Deliveries | None = None,
        verify: Verify | None = None,
    ) -> None:
        """Handle one message from `queue`; raises only `Requeue` (module docstring)."""
        received = Received.of(message, queue, self._hub_logins)
        started = time.perf_counter()
        kind = "unknown"
        actor: Actor | None = None
        try:
            _check_size(received.body, received.headers, self._max_bytes)
            env = parse_envelope(received.body)
            kind = env.kind
            _check_accepted(env, accepts, queue)
            actor = _actor(received.sender, verify, env, received)
            outcome = await self._process(received, env, deliveries, actor)
        except Exception as e:
            await self.settle(received, kind, e, actor)
            return
        finally:
            metrics.HANDLE_SECONDS.labels(queue, kind).observe(time.perf_counter() - started)
        metrics.HANDLED.labels(queue, kind, outcome).inc()

    async def _process(
        self, r: Received, env: Envelope, deliveries: Deliveries | None, actor: Actor
    ) -> str:
        if deliveries is None:
            await self._engine.run(Job(r.queue, env.message_id, (env,), actor=actor))
            return "ok"
        if await self._engine.seen(r.queue, env.message_id):
            return "duplicate"  # a copy of a delivery already made: do not call the system again
        result = await deliveries.call(env, r.headers)
        if isinstance(result, Postponed):  # the circuit is open or a backlog waits
            keep = Deferred(
                deliveries.connector, r.queue, env.message_id, r.body, r.headers, env.occurred_at
            )
            try:
                await self._engine.run(Job(r.queue, env.message_id, (), defer=keep))
            finally:
                deliveries.deferral_settled(env.message_id)
            return "deferred"
        answered = Actor(deliveries.connector)  # the system's answer: its events are its own
        job = Job(r.queue, env.message_id, result.events, acks=(r.queue, env.message_id))
        await self._engine.run(dataclasses.replace(job, actor=answered))
        return "ok"

    async def settle(
        self, r: Received, kind: str, error: BaseException, actor: Actor | None = None
    ) -> None:
        """Retry, dead-letter or requeue a failed message (see the module docstring); a dead
        letter names the authenticated `actor` behind it, when the hub knew it."""
        error = as_hub_error(error)
        decision = self._policy.decide(error, r.attempts)
        metrics.HANDLED.labels(r.queue, kind, decision.verdict).inc()
        log.warning(
            "message.failed",
            queue=r.queue,
            kind=kind,
            message_id=r.message_id,
            correlation_id=r.correlation_id,
            attempt=r.attempts,
            verdict=decision.verdict,
            reason=decision.reason,
            error=type(error).__name__,
        )
        if decision.verdict == "requeue":
            raise Requeue(r.queue)
        try:
            redirect = _redirect(r, decision, error, self._clock(), actor, self._max_bytes)
            await self._publisher.publish(redirect)
        except PublishFailed as e:
            log.error("message.settle_failed", queue=r.queue, message_id=r.message_id, error=str(e))
            raise Requeue(r.queue) from e


def _actor(sender: Sender, verify: Verify | None, env: Envelope, r: Received) -> Actor:
    """Who is behind a consumed message: what its connector's verifier authenticated, else the
    login the broker vouched for, which speaks for no court."""
    if verify is not None:
        verified = verify(Inbound(env, r.body, r.headers, sender))
        if verified is not None:
            return verified
    return Actor(f"amqp:{sender.login or sender.exchange or 'unknown'}")


def _check_accepted(env: Envelope, accepts: Collection[str], queue: str) -> None:
    if accepts and env.kind not in accepts:
        raise ContractError(f"{env.kind} is not accepted on {queue}", reason="kind_not_accepted")


def _error_headers(
    r: Received, decision: Decision, error: BaseException, now: datetime, actor: Actor | None
) -> dict[str, Any]:
    headers = _carried(r.headers)
    if actor is not None:
        headers[ACTOR_HEADER] = actor.name
    headers.update(
        {
            "x-hub-error-type": type(error).__name__,
            "x-hub-error-reason": decision.reason,
            "x-hub-error-message": str(error)[:1000],
            "x-hub-error-trace": "".join(traceback.format_exception(error))[-_TRACE_LIMIT:],
            "x-hub-failed-queue": r.queue,
            "x-hub-failed-at": now.isoformat(),
        }
    )
    return headers


def _check_size(body: bytes, headers: Mapping[str, Any], limit: int) -> None:
    """Refuse a message too large to parse: one unit's oversized envelope must not be parsed
    whole by every worker that takes it, nor headers near the broker's frame size be carried
    into the hub's own publishes (a frame over `frame_max` closes the whole connection)."""
    if len(body) > limit:
        raise ContractError(
            f"message of {len(body)} bytes is over the hub's limit of {limit} bytes "
            "(HUB_RABBIT__MAX_MESSAGE_BYTES)",
            reason="too_large",
        )
    size = len(json.dumps(headers, default=str))
    if size > _MAX_HEADERS:
        raise ContractError(
            f"headers of {size} bytes are over the hub's limit of {_MAX_HEADERS}",
            reason="too_large",
        )


def _carried(headers: Mapping[str, Any]) -> dict[str, Any]:
    """The headers a retry or dead letter carries: the hub's own and a court's signature, each
    short. Anything else a sender set stays behind (it could swell the hub's publish past the
    broker's frame size)."""
    return {
        k: v
        for k, v in headers.items()
        if k.startswith(_CARRIED_PREFIXES) and len(str(v)) <= _MAX_CARRIED_VALUE
    }


def _redirect(
    r: Received,
    decision: Decision,
    error: BaseException,
    now: datetime,
    actor: Actor | None,
    keep: int,
) -> Outgoing:
    headers = _error_headers(r, decision, error, now, actor)
    message_id = r.message_id or str(UUID(int=0))
    correlation_id, kind = r.correlation_id or "", r.kind or ""
    if decision.verdict == "retry" and decision.delay_s is not None:
        # a retry carries no error: if the broker dead-letters it later (its delivery limit), the
        # parker must read the broker's reason, not this attempt's stale one
        headers = {k: v for k, v in headers.items() if k not in ERROR_HEADERS}
        rung = retry_label(decision.delay_s)
        headers[ATTEMPT_HEADER] = r.attempts + 1
        headers[RETRY_LEVEL_HEADER] = rung
        metrics.RETRIED.labels(r.queue, rung).inc()
        return Outgoing(
            exchange=RETRY_EXCHANGE,
            routing_key=r.queue,
            body=r.body,
            message_id=message_id,
            correlation_id=correlation_id,
            headers=headers,
            kind=kind,
        )
    headers[ATTEMPT_HEADER] = r.attempts
    body = r.body
    if len(body) > keep:  # a dead letter keeps the head of an oversized body, and its size
        body, headers[TRUNCATED_HEADER] = body[:keep], len(body)
    connector = connector_of(r.queue)
    metrics.DEAD_LETTERED.labels(connector, decision.reason.split(":")[0]).inc()
    return Outgoing(
        exchange=DLX,
        routing_key=connector,
        body=body,
        message_id=message_id,
        correlation_id=correlation_id,
        headers=headers,
        kind=kind,
    )
