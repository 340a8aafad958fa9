"""What a connector gives the hub: its name, the kinds its systems may send, how to deliver to it.

Connectors import this module (and `hub.errors`, `hub.domain`); they never reach into the
pipeline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contracts import Envelope
from hub.domain.topology import Connector

__all__ = [
    "RESOURCES",
    "ConnectorSpec",
    "Deliver",
    "DeliverFactory",
    "Inbound",
    "Probe",
    "Task",
    "Verify",
    "VerifyFactory",
]

# Sends one message to the external system; returns the events its answer means (maybe none).
# The headers are the AMQP headers the hub set when routing (e.g. `x-hub-court`).
Deliver = Callable[[Envelope, Mapping[str, Any]], Awaitable[tuple[Envelope, ...]]]
# Builds a `Deliver` from the running hub's shared resources (settings, an HTTP client...).
DeliverFactory = Callable[[Mapping[str, Any]], Deliver]
# Checks a message that came in from outside before the hub acts on it (a signature, the sender's
# identity); raises `contracts.ContractError` (reason e.g. "bad_signature") to refuse it.
Verify = Callable[["Inbound"], None]
VerifyFactory = Callable[[Mapping[str, Any]], Verify]

# A synthetic round trip to the external system (the dashboard shows its latency, or its error).
Probe = Callable[[Mapping[str, Any]], Awaitable[object]]

# A background loop a connector runs inside the hub (e.g. polling BNMP for changes).
Task = Callable[[Mapping[str, Any]], Awaitable[None]]

# What the hub puts in `resources` for the factories and tasks.
RESOURCES = ("settings", "http", "publisher", "clock")


@dataclass(frozen=True)
class Inbound:
    """A message from an external system, parsed, with what the broker says about its sender."""

    envelope: Envelope
    body: bytes
    headers: Mapping[str, Any]
    user_id: str | None  # the AMQP user_id property; RabbitMQ checks it equals the sender's login


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
