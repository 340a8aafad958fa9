"""The hub's own Prometheus metrics (queue depths are read from RabbitMQ by the ops service)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "DEADLINE_ALERTS",
    "DEAD_LETTERED",
    "HANDLED",
    "HANDLE_SECONDS",
    "OUTBOX_LAG",
    "RETRIED",
    "UPSTREAM_SECONDS",
]

HANDLED = Counter(
    "hub_messages_handled_total",
    "Messages consumed, by queue, kind and outcome",
    ["queue", "kind", "outcome"],
)
HANDLE_SECONDS = Histogram(
    "hub_message_handle_seconds",
    "From delivery to settled (commit and confirms included)",
    ["queue", "kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RETRIED = Counter("hub_messages_retried_total", "Messages sent to a retry rung", ["queue", "rung"])
DEAD_LETTERED = Counter(
    "hub_messages_dead_lettered_total",
    "Messages sent to a dead-letter queue",
    ["connector", "reason"],
)
DEADLINE_ALERTS = Counter(
    "hub_deadline_alerts_total", "Deadline alerts raised", ["deadline", "threshold"]
)
OUTBOX_LAG = Gauge("hub_outbox_unconfirmed", "Outbox rows not yet confirmed by the broker")
UPSTREAM_SECONDS = Histogram(
    "hub_upstream_call_seconds",
    "Calls to external systems",
    ["connector", "outcome"],
)
