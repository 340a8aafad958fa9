"""What a connector gives the hub: its name, the kinds its systems may send, how to deliver to it.

Connectors import this module (and `hub.errors`, `hub.topology`); they never reach into the engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts import Envelope
from hub.topology import Connector

__all__ = ["ConnectorSpec", "Deliver", "DeliverFactory"]

# Sends one message to the external system; returns the events its answer means (maybe none).
# The headers are the AMQP headers the hub set when routing (e.g. `x-hub-court`).
Deliver = Callable[[Envelope, Mapping[str, Any]], Awaitable[tuple[Envelope, ...]]]
# Builds a `Deliver` from the running hub's shared resources (settings, an HTTP client...).
DeliverFactory = Callable[[Mapping[str, Any]], Deliver]


@dataclass(frozen=True)
class ConnectorSpec:
    """A connector as the hub sees it."""

    name: Connector
    accepts: frozenset[str]
    deliver: DeliverFactory | None = None
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
