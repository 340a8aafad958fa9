"""The one place that decides a consumed message's fate: ack, delayed retry, dead letter, requeue.

Handlers never ack. They give `Consumer.consume` the raw message and, for an outbound queue, the
function that delivers to the external system. Then:

* success → return, and FastStream acks (after the engine's commit and confirms);
* transient error → the message is republished to the next rung of the retry ladder with the attempt
  count in `x-hub-attempt` (our header; `x-death` is not relied on), then acked;
* permanent error or contract violation → republished to the connector's dead-letter queue with the
  error's type, reason, message and trace in headers, then acked;
* the hub could not record either (broker trouble) → nack with requeue; the quorum queue's delivery
  limit dead-letters a message that keeps coming back, so nothing loops for ever.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from faststream.exceptions import NackMessage
from faststream.rabbit import RabbitMessage

from contracts import ContractError, Envelope, parse_envelope
from hub import metrics
from hub.engine import Clock, Engine, Job
from hub.errors import PublishFailed
from hub.outgoing import Outgoing
from hub.publisher import Publisher
from hub.retry import ATTEMPT_HEADER, Decision, RetryPolicy
from hub.topology import DLX, RETRY_EXCHANGE, RETRY_LEVEL_HEADER, connector_of, retry_label

__all__ = ["ERROR_HEADERS", "Consumer", "Deliver"]

log = structlog.get_logger("hub.consumer")

Deliver = Callable[[Envelope], Awaitable[tuple[Envelope, ...]]]

ERROR_HEADERS = (
    "x-hub-error-type",
    "x-hub-error-reason",
    "x-hub-error-message",
    "x-hub-error-trace",
    "x-hub-failed-queue",
    "x-hub-failed-at",
)
_TRACE_LIMIT = 4000


class Consumer:
    """Runs a consumed message through parse → (deliver) → engine, and settles its fate."""

    def __init__(
        self, engine: Engine, publisher: Publisher, policy: RetryPolicy, clock: Clock
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._policy = policy
        self._clock = clock

    async def consume(
        self,
        message: RabbitMessage,
        queue: str,
        *,
        accepts: Collection[str] = (),
        deliver: Deliver | None = None,
    ) -> None:
        """Handle one message from `queue`; raises only to requeue (module docstring)."""
        started = time.perf_counter()
        attempts = _attempts(message.headers)
        kind = "unknown"
        try:
            env = parse_envelope(message.body)
            kind = env.kind
            _check_accepted(env, accepts, queue)
            if deliver is not None and await self._engine.seen(queue, env.message_id):
                metrics.HANDLED.labels(queue, kind, "duplicate").inc()
                return  # a copy of a delivery already made: do not call the external system again
            events = (env,) if deliver is None else await deliver(env)
            acks = env.message_id if deliver is not None else None
            await self._engine.run(Job(queue, env.message_id, events, acks=acks))
        except Exception as e:
            await self._settle(message, queue, kind, attempts, e)
            return
        finally:
            metrics.HANDLE_SECONDS.labels(queue, kind).observe(time.perf_counter() - started)
        metrics.HANDLED.labels(queue, kind, "ok").inc()

    async def _settle(
        self, message: RabbitMessage, queue: str, kind: str, attempts: int, error: BaseException
    ) -> None:
        decision = self._policy.decide(error, attempts)
        metrics.HANDLED.labels(queue, kind, decision.verdict).inc()
        log.warning(
            "message.failed",
            queue=queue,
            kind=kind,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            attempt=attempts,
            verdict=decision.verdict,
            reason=decision.reason,
            error=type(error).__name__,
        )
        if decision.verdict == "requeue":
            raise NackMessage(requeue=True)
        out = _redirect(message, queue, decision, error, attempts, self._clock())
        try:
            await self._publisher.publish(out)
        except PublishFailed as e:
            log.error(
                "message.settle_failed", queue=queue, message_id=message.message_id, error=str(e)
            )
            raise NackMessage(requeue=True) from e


def _check_accepted(env: Envelope, accepts: Collection[str], queue: str) -> None:
    if accepts and env.kind not in accepts:
        raise ContractError(f"{env.kind} is not accepted on {queue}", reason="kind_not_accepted")


def _attempts(headers: dict[str, Any]) -> int:
    try:
        return max(0, int(headers.get(ATTEMPT_HEADER, 0)))
    except (TypeError, ValueError):
        return 0


def _redirect(
    message: RabbitMessage,
    queue: str,
    decision: Decision,
    error: BaseException,
    attempts: int,
    now: datetime,
) -> Outgoing:
    headers = {k: v for k, v in message.headers.items() if not k.startswith("x-death")}
    headers.update(
        {
            "x-hub-error-type": type(error).__name__,
            "x-hub-error-reason": decision.reason,
            "x-hub-error-message": str(error)[:1000],
            "x-hub-error-trace": "".join(traceback.format_exception(error))[-_TRACE_LIMIT:],
            "x-hub-failed-queue": queue,
            "x-hub-failed-at": now.isoformat(),
        }
    )
    message_id = message.message_id or str(UUID(int=0))
    correlation_id, kind = message.correlation_id or "", message.raw_message.type or ""
    if decision.verdict == "retry" and decision.delay_s is not None:
        headers[ATTEMPT_HEADER] = attempts + 1
        headers[RETRY_LEVEL_HEADER] = retry_label(decision.delay_s)
        metrics.RETRIED.labels(queue, retry_label(decision.delay_s)).inc()
        return Outgoing(
            RETRY_EXCHANGE, queue, message.body, message_id, correlation_id, headers, kind
        )
    headers[ATTEMPT_HEADER] = attempts
    metrics.DEAD_LETTERED.labels(connector_of(queue), decision.reason.split(":")[0]).inc()
    return Outgoing(
        DLX, connector_of(queue), message.body, message_id, correlation_id, headers, kind
    )
