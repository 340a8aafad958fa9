"""A message the hub will publish, as a plain value (pure: no broker import)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outgoing"]


@dataclass(frozen=True)
class Outgoing:
    """One message to publish: where, what, and its AMQP properties."""

    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    correlation_id: str = ""
    headers: Mapping[str, Any] = field(default_factory=dict)
    kind: str = ""
