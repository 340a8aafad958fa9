"""A message the hub will publish, as a plain value (pure: no broker import)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DISTRIBUTION_HEADERS", "Outgoing"]

# Headers that tell RabbitMQ where to route (sender-selected distribution): set from `Outgoing.cc`
# when publishing, never carried from a consumed message into another publish.
DISTRIBUTION_HEADERS = frozenset({"CC", "BCC"})


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    """One message to publish: where, what, and its AMQP properties.

    `cc` names more routing keys for the same message (RabbitMQ's sender-selected distribution:
    the `BCC` header, which the broker removes before delivery): one publish and one confirm put
    it in every queue named, and no receiver learns where else it went.
    """

    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    correlation_id: str = ""
    headers: Mapping[str, Any] = field(default_factory=dict)
    kind: str = ""
    cc: tuple[str, ...] = ()

    @property
    def routing_keys(self) -> tuple[str, ...]:
        """Every routing key the message is published with."""
        return (self.routing_key, *self.cc)
