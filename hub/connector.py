"""What a connector gives the hub: its name, the kinds its systems may send, how to deliver to it;
and what the hub lends it in return (`Resources`).

Connectors import this module (and `hub.errors`, `hub.domain`); they never reach into the
pipeline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from contracts import Envelope
from hub.domain.authority import Actor
from hub.domain.sender import Inbound
from hub.domain.topology import Connector

if TYPE_CHECKING:
    import httpx

    from hub.clock import Clock
    from hub.domain.outgoing import Outgoing
    from hub.settings import HubSettings

__all__ = [
    "ConnectorSpec",
    "Deliver",
    "DeliverFactory",
    "EventPublisher",
    "Inbound",
    "Probe",
    "Resources",
    "Task",
    "Verify",
    "VerifyFactory",
]


class EventPublisher(Protocol):
    """Publishes one message and waits for the broker's confirm. `hub.amqp.publisher.Publisher` is
    one; it is named here because `hub.amqp` is a layer above this module."""

    async def publish(self, message: Outgoing) -> None:
        """Publish `message`; raise `hub.errors.PublishFailed` if the broker did not confirm it."""
        ...


@dataclass(frozen=True)
class Resources:
    """What the running hub lends the connectors' factories, probes and tasks (`hub.app.Hub`)."""

    settings: HubSettings
    http: httpx.AsyncClient  # one client, so one connection pool, for every connector
    publisher: EventPublisher  # for the events a connector raises itself (BNMP's polled changes)
    clock: Clock


# Sends one message to the external system; returns the events its answer means (maybe none).
# The headers are the AMQP headers the hub set when routing (e.g. `x-hub-court`).
Deliver = Callable[[Envelope, Mapping[str, Any]], Awaitable[tuple[Envelope, ...]]]
# Builds a `Deliver` from the running hub's shared resources.
DeliverFactory = Callable[[Resources], Deliver]
# Checks a message that came in from outside before the hub acts on it (a signature, the sender's
# identity); raises `contracts.ContractError` (reason e.g. "bad_signature") to refuse it. Returns
# who sent it, as authenticated (`hub.domain.authority.Actor`), or None to leave that to the hub.
Verify = Callable[["Inbound"], Actor | None]
VerifyFactory = Callable[[Resources], Verify]

# A synthetic round trip to the external system (the dashboard shows its latency, or its error).
Probe = Callable[[Resources], Awaitable[object]]

# A background loop a connector runs inside the hub (e.g. polling BNMP for changes).
Task = Callable[[Resources], Awaitable[None]]


@dataclass(frozen=True)
class ConnectorSpec:
    """A connector as the hub sees it."""

    name: Connector
    accepts: frozenset[str]
    deliver: DeliverFactory | None = None
    verify: VerifyFactory | None = None
    probe: Probe | None = None
    tasks: tuple[Task, ...] = ()
    description: str = ""
