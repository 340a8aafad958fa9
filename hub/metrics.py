"""The hub's own Prometheus metrics (queue depths are read from RabbitMQ by the ops service)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ACKS_ALERTED",
    "ACKS_REPUBLISHED",
    "BNMP_DRIFT",
    "BROKER_BLOCKED",
    "BROKER_BLOCKS",
    "DEADLINE_ALERTS",
    "DEAD_LETTERED",
    "HANDLED",
    "HANDLE_SECONDS",
    "OUTBOX_LAG",
    "RETRIED",
    "TOPOLOGY_REDECLARED",
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
ACKS_REPUBLISHED = Counter(
    "hub_acks_republished_total",
    "Copies published again to one destination that had not acknowledged them in time, by the"
    " destination's role: hub (a queue the hub delivers from) or unit (a custodial unit's queue)",
    ["role"],
)
ACKS_ALERTED = Counter(
    "hub_acks_alerted_total",
    "Destinations still unacknowledged after the reconciler's last try (someone must look)",
    ["role"],
)
BNMP_DRIFT = Gauge(
    "hub_bnmp_drift",
    "Disagreements with BNMP, the register of record, found by the last reconciliation",
    ["kind", "court"],
)
TOPOLOGY_REDECLARED = Counter(
    "hub_topology_redeclared_total",
    "Exchanges and queues found missing under the running hub and declared again",
    ["kind"],
)
BROKER_BLOCKED = Gauge(
    "hub_broker_blocked",
    "1 while RabbitMQ blocks the hub's connection (a memory or disk alarm): intake paused",
)
BROKER_BLOCKS = Counter(
    "hub_broker_blocks_total", "Times RabbitMQ blocked the hub's connection (resource alarms)"
)
# Exported at 0 from the start, so that alert rules and dashboards find every series.
for _role in ("hub", "unit"):
    ACKS_REPUBLISHED.labels(_role)
    ACKS_ALERTED.labels(_role)
for _kind in ("exchange", "queue"):
    TOPOLOGY_REDECLARED.labels(_kind)
