"""What `Deliveries.call` returns: the events of a delivery made, or word that it was postponed.

A module of its own because both ends need the types at run time: `hub.pipeline.delivery` returns
them and imports the consumer (`Received`), and `hub.pipeline.consumer` tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import Envelope

__all__ = ["CallResult", "Delivered", "Postponed"]


@dataclass(frozen=True)
class Delivered:
    """The external system took the delivery; `events` are what its answer means for the hub."""

    events: tuple[Envelope, ...]


@dataclass(frozen=True)
class Postponed:
    """The delivery was not made: the circuit is open, a backlog waits, or the system just proved
    unavailable. The caller keeps it in the `deferred` backlog, in order, for the drainer."""


CallResult = Delivered | Postponed
