"""Every exchange, queue, binding and argument of the hub, as data (no I/O).

Naming families (dotted, lower case):

* ``hub.<connector>.in``: what an external system sends to the hub. A fanout exchange of the same
  name is the only way in, so a system's RabbitMQ user needs write permission on that one exchange.
* ``hub.custodial_unit.<unit>.in``: one more way in per custodial unit, a fanout exchange bound to
  ``hub.custodial_unit.in`` that only that unit's user may write, so the exchange a message came
  through names its sender even when its client cannot set the AMQP ``user_id``
  (`hub.domain.sender`).
* ``hub.<connector>.out``: what the hub sends to an external system that the hub itself calls (BNMP,
  SETARIM, the court's webhook). ``hub.custodial_unit.<unit>.out`` is one queue per custodial unit,
  read by the prison's own system.
* ``hub.<connector>.dlq``: the dead letters of that connector, whatever queue they failed in.
* ``hub.retry.<delay>``: the delayed-retry ladder, shared by all work queues. A message waits there
  for the rung's TTL and is dead-lettered back to the default exchange with its original routing
  key, which is the work queue's name. RabbitMQ 3.10 has no delayed-message plugin, and this needs
  none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "CONNECTORS",
    "DLX",
    "RETRY_EXCHANGE",
    "RETRY_LEVEL_HEADER",
    "Binding",
    "Connector",
    "Exchange",
    "Queue",
    "Topology",
    "build_topology",
    "connector_of",
    "dead_letter_of",
    "in_queue",
    "out_queue",
    "retry_label",
    "retry_queue",
    "to_definitions",
    "unit_exchange",
    "unit_of_exchange",
    "unit_queue",
]

Connector = Literal["court", "setarim", "custodial_unit", "bnmp"]
CONNECTORS: Final[tuple[Connector, ...]] = ("court", "setarim", "custodial_unit", "bnmp")
DLX: Final = "hub.dlx"
RETRY_EXCHANGE: Final = "hub.retry"
# No "x-" prefix: a headers exchange ignores x- headers when it matches bindings.
RETRY_LEVEL_HEADER: Final = "hub-retry-level"

# Connectors whose outbound side the hub consumes itself (it calls their HTTP API).
_CALLED_OUT: Final[tuple[Connector, ...]] = ("court", "setarim", "bnmp")


@dataclass(frozen=True)
class Exchange:
    """A durable exchange."""

    name: str
    type: Literal["direct", "fanout", "topic", "headers"]


@dataclass(frozen=True)
class Queue:
    """A durable queue and its arguments (quorum unless said otherwise)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Binding:
    """A binding from an exchange to a queue."""

    source: str
    destination: str
    routing_key: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Topology:
    """The whole broker layout the hub declares at start-up."""

    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]
    bindings: tuple[Binding, ...]

    def queue(self, name: str) -> Queue:
        """Return the queue called `name`, or raise KeyError."""
        for q in self.queues:
            if q.name == name:
                return q
        raise KeyError(name)

    def work_queues(self) -> tuple[str, ...]:
        """Names of the queues that dead-letter into a connector's DLQ."""
        return tuple(
            q.name for q in self.queues if q.arguments.get("x-dead-letter-exchange") == DLX
        )


def in_queue(connector: Connector) -> str:
    """Queue (and fanout exchange) where `connector`'s external systems publish to the hub."""
    return f"hub.{connector}.in"


def out_queue(connector: Connector) -> str:
    """Queue the hub fills for `connector` and consumes itself to call the external system."""
    return f"hub.{connector}.out"


def unit_queue(unit: str) -> str:
    """Queue read by the custodial unit `unit`'s own system."""
    return f"hub.custodial_unit.{unit}.out"


def unit_exchange(unit: str) -> str:
    """The exchange only custodial unit `unit` may write: its own way in."""
    return f"hub.custodial_unit.{unit}.in"


def unit_of_exchange(exchange: str | None) -> str | None:
    """The unit whose own exchange `exchange` is, or None (the shared one, or any other)."""
    prefix, suffix = "hub.custodial_unit.", ".in"
    if exchange is None or not exchange.startswith(prefix) or not exchange.endswith(suffix):
        return None
    unit = exchange[len(prefix) : -len(suffix)]
    return unit or None


def dead_letter_of(queue: str) -> str:
    """The DLQ of the connector that owns `queue`."""
    return f"hub.{connector_of(queue)}.dlq"


def connector_of(queue: str) -> Connector:
    """The connector that owns a work queue, from its name."""
    parts = queue.split(".")
    for c in CONNECTORS:
        if len(parts) >= 3 and parts[0] == "hub" and parts[1] == c:
            return c
    raise KeyError(f"{queue!r} belongs to no connector")


def retry_label(delay_s: float) -> str:
    """A rung's label: 5s, 2m, 1h; exact, so two rungs never share a label."""
    s = int(delay_s * 1000)
    for unit, ms in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if s % ms == 0:
            return f"{s // ms}{unit}"
    return f"{s}ms"


def retry_queue(delay_s: float) -> str:
    """The ladder queue that holds messages for `delay_s` seconds."""
    return f"{RETRY_EXCHANGE}.{retry_label(delay_s)}"


def _work_args(connector: Connector, delivery_limit: int) -> dict[str, Any]:
    # at-least-once dead-lettering needs reject-publish overflow (RabbitMQ 3.10 quorum queues).
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": DLX,
        "x-dead-letter-routing-key": connector,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def _retry_args(delay_s: float) -> dict[str, Any]:
    # Queue-level TTL, one rung per delay: per-message TTLs in one queue expire only at the head.
    return {
        "x-queue-type": "quorum",
        "x-message-ttl": int(delay_s * 1000),
        "x-dead-letter-exchange": "",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def _work_queues(units: Iterable[str]) -> list[tuple[str, Connector]]:
    named: list[tuple[str, Connector]] = [(in_queue(c), c) for c in CONNECTORS]
    named += [(out_queue(c), c) for c in _CALLED_OUT]
    named += [(unit_queue(u), "custodial_unit") for u in sorted(set(units))]
    return named


def build_topology(
    units: Iterable[str], ladder_s: Iterable[float], delivery_limit: int = 5
) -> Topology:
    """Build the layout for these custodial units, retry rungs and delivery limit."""
    exchanges = [Exchange(DLX, "direct"), Exchange(RETRY_EXCHANGE, "headers")]
    queues: list[Queue] = []
    bindings: list[Binding] = []
    for name, connector in _work_queues(units):
        queues.append(Queue(name, _work_args(connector, delivery_limit)))
    for c in CONNECTORS:
        exchanges.append(Exchange(in_queue(c), "fanout"))
        bindings.append(Binding(in_queue(c), in_queue(c)))
        queues.append(Queue(f"hub.{c}.dlq", {"x-queue-type": "quorum"}))
        bindings.append(Binding(DLX, f"hub.{c}.dlq", c))
    for u in sorted(set(units)):
        exchanges.append(Exchange(unit_exchange(u), "fanout"))
        bindings.append(Binding(unit_exchange(u), in_queue("custodial_unit")))
    for delay in sorted(set(ladder_s)):
        q = retry_queue(delay)
        queues.append(Queue(q, _retry_args(delay)))
        label = {"x-match": "all", RETRY_LEVEL_HEADER: retry_label(delay)}
        bindings.append(Binding(RETRY_EXCHANGE, q, "", label))
    return Topology(tuple(exchanges), tuple(queues), tuple(bindings))


def to_definitions(topology: Topology, vhost: str = "/") -> dict[str, Any]:
    """The topology as a RabbitMQ definitions document (`deploy/rabbitmq/definitions.json`)."""
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": [
            {
                "name": e.name,
                "vhost": vhost,
                "type": e.type,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            for e in topology.exchanges
        ],
        "queues": [
            {
                "name": q.name,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": q.arguments,
            }
            for q in topology.queues
        ],
        "bindings": [
            {
                "source": b.source,
                "vhost": vhost,
                "destination": b.destination,
                "destination_type": "queue",
                "routing_key": b.routing_key,
                "arguments": b.arguments,
            }
            for b in topology.bindings
        ],
    }
