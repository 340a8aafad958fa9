"""The hub's error tree, split by what the consumer must do with the message.

    HubError
    ├── TransientError            retry: a few short in-process tries, then the delayed ladder
    │   ├── UpstreamUnavailable   an external system is down, timed out or answered 5xx
    │   │                         (a delivery then waits in its connector's in-order backlog)
    │   ├── UpstreamThrottled     an external system answered 429
    │   ├── OutOfOrder            the message overtook one it depends on
    │   └── StoreUnavailable      PostgreSQL could not be reached or the transaction must be retried
    ├── PermanentError            dead-letter now, with the reason; retrying cannot help
    │   ├── UpstreamRejected      an external system refused the document (4xx, business error)
    │   ├── StaleMessage          the business state moved on (revoked, superseded, complied)
    │   └── Unroutable            no destination exists for the message
    └── PublishFailed             the broker returned, nacked or did not confirm a publish

    Requeue                       not an error: the message goes back to its queue (nack)

Pure code raises `contracts.ContractError` (and its `IllegalTransition`); the engine treats it as
permanent. Library errors (httpx, asyncpg, aio-pika) are translated into this tree at the boundary.
"""

from __future__ import annotations

__all__ = [
    "HubError",
    "OutOfOrder",
    "PermanentError",
    "PublishFailed",
    "Requeue",
    "StaleMessage",
    "StoreUnavailable",
    "TransientError",
    "Unroutable",
    "UpstreamRejected",
    "UpstreamThrottled",
    "UpstreamUnavailable",
]


class HubError(Exception):
    """Root of every error the hub raises on purpose."""

    reason: str = "hub_error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class TransientError(HubError):
    """A failure that may succeed later: retry, then walk the delayed ladder."""

    reason = "transient"


class UpstreamUnavailable(TransientError):
    """An external system is down, slow or answered a server error."""

    reason = "upstream_unavailable"

    def __init__(self, system: str, detail: str = "") -> None:
        super().__init__(f"{system} unavailable{': ' + detail if detail else ''}")
        self.system = system


class UpstreamThrottled(TransientError):
    """An external system asked the hub to slow down (429): back off on the delayed ladder."""

    reason = "upstream_throttled"

    def __init__(self, system: str, detail: str = "") -> None:
        super().__init__(f"{system} throttled{': ' + detail if detail else ''}")
        self.system = system


class OutOfOrder(TransientError):
    """The message overtook one it depends on (a compliance before its receipt): retry later."""

    reason = "out_of_order"


class StoreUnavailable(TransientError):
    """PostgreSQL could not take the write now (connection lost, serialization failure)."""

    reason = "store_unavailable"


class PermanentError(HubError):
    """A failure that retrying cannot fix: dead-letter at once with the reason."""

    reason = "permanent"


class UpstreamRejected(PermanentError):
    """An external system refused the document (a 4xx or a business rejection)."""

    reason = "upstream_rejected"


class StaleMessage(PermanentError):
    """The business state moved on: the order was revoked, superseded or already complied."""

    reason = "stale"


class Unroutable(PermanentError):
    """The message has no destination (for instance an order with no known custodial unit)."""

    reason = "unroutable"


class PublishFailed(HubError):
    """The broker returned the message as unroutable, nacked it, or did not confirm it in time."""

    reason = "publish_failed"


class Requeue(Exception):
    """Not a failure of the message: the broker could not take its redirect, so it goes back to
    its queue (nack with requeue) and comes again; the quorum queue's delivery limit ends a loop."""
