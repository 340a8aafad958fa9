"""The Prometheus endpoint: the hub's own metrics plus gauges read at scrape time.

The hub's counters and histograms (`hub.metrics`: handled, retried, dead-lettered, latency per
queue and kind, upstream calls, deadline alerts) live in the default registry of the process that
runs the hub. The ops service adds, in a registry of its own, what it reads when scraped: queue
depths and consumers, dead letters by connector and status, open and overdue deadlines, orders by
state, the outbox backlog and its age, circuits and deferred deliveries, active replay jobs, and
the destinations not yet acknowledged (open, and alerted by the reconciler).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contracts import DeadlineKind
from hub.domain.topology import CONNECTORS
from hub.ops.rabbit_admin import QueueReport
from hub.ops.stats import Gauges
from hub.store.acks_repo import AckCounts
from hub.store.ops_stats import Circuit

__all__ = ["OpsCollector", "Snapshot", "exposition"]


@dataclass(frozen=True)
class Snapshot:
    """What was read at the last scrape."""

    queues: QueueReport
    counts: Gauges
    circuits: Mapping[str, Circuit] = field(default_factory=dict)
    acks: AckCounts | None = None


def _family(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _queue_families(report: QueueReport) -> Iterator[Metric]:
    columns = (
        ("hub_queue_messages_ready", "Messages ready in the queue", "ready"),
        ("hub_queue_messages_unacked", "Messages delivered, not yet acknowledged", "unacked"),
        ("hub_queue_consumers", "Consumers attached to the queue", "consumers"),
        ("hub_queue_publish_rate", "Messages published per second", "publish_rate"),
        ("hub_queue_deliver_rate", "Messages delivered per second", "deliver_rate"),
    )
    for name, doc, attr in columns:
        family = _family(name, doc, ["queue", "role"])
        for q in report.queues:
            value = getattr(q, attr)
            if value is not None:
                family.add_metric([q.name, q.role], float(value))
        yield family
    source = _family(
        "hub_queue_stats_source", "Where queue numbers come from (1 = in use)", ["source"]
    )
    for name in ("management", "amqp", "none"):
        source.add_metric([name], 1.0 if report.source == name else 0.0)
    yield source


def _store_families(counts: Gauges) -> Iterator[Metric]:
    letters = _family(
        "hub_dead_letters", "Dead letters by connector and status", ["connector", "status"]
    )
    for connector, status, n in counts.dead_letters:
        letters.add_metric([connector, status], n)
    yield letters
    open_ = _family("hub_deadlines_open", "Business deadlines not yet met", ["kind"])
    overdue = _family("hub_deadlines_overdue", "Business deadlines past due and not met", ["kind"])
    # Every kind, 0 when none is open: a series without samples leaves alerts blind.
    counted = {kind: (n_open, n_overdue) for kind, n_open, n_overdue in counts.deadlines}
    for kind in sorted({k.value for k in DeadlineKind} | set(counted)):
        n_open, n_overdue = counted.get(kind, (0, 0))
        open_.add_metric([kind], n_open)
        overdue.add_metric([kind], n_overdue)
    yield open_
    yield overdue
    orders = _family("hub_release_orders", "Release orders by lifecycle state", ["state"])
    for state, n in counts.orders:
        orders.add_metric([state], n)
    yield orders
    yield GaugeMetricFamily(
        "hub_outbox_backlog", "Outbox rows not yet confirmed", value=counts.outbox_unconfirmed
    )
    yield GaugeMetricFamily(
        "hub_outbox_oldest_unconfirmed_seconds",
        "Age of the oldest unconfirmed outbox row (outbox lag)",
        value=counts.outbox_oldest_s,
    )
    yield GaugeMetricFamily(
        "hub_replay_jobs_active", "Bulk replays running", value=counts.replay_jobs_active
    )


def _circuit_families(circuits: Mapping[str, Circuit]) -> Iterator[Metric]:
    up = _family("hub_connector_up", "1 when the connector's circuit is closed", ["connector"])
    deferred = _family("hub_connector_deferred", "Deliveries deferred while down", ["connector"])
    # Every connector: one whose circuit never opened has no row, and is up with nothing deferred.
    for name in sorted(set(CONNECTORS) | set(circuits)):
        c = circuits.get(name)
        up.add_metric([name], 0.0 if c is not None and c.state != "closed" else 1.0)
        deferred.add_metric([name], float(c.deferred or 0) if c is not None else 0.0)
    yield up
    yield deferred


def _ack_families(acks: AckCounts) -> Iterator[Metric]:
    open_ = _family(
        "hub_acks_open", "Destinations not yet acknowledged, by queue role (hub, unit)", ["role"]
    )
    alerted = _family(
        "hub_acks_unacknowledged",
        "Destinations still unacknowledged after the reconciler's tries: someone must look",
        ["role"],
    )
    for role in ("hub", "unit"):
        open_.add_metric([role], acks.open.get(role, 0))
        alerted.add_metric([role], acks.alerted.get(role, 0))
    yield open_
    yield alerted
    yield GaugeMetricFamily(
        "hub_acks_oldest_open_seconds",
        "Age of the oldest destination not yet acknowledged",
        value=acks.oldest_open_s,
    )


class OpsCollector(Collector):
    """Yields the gauges of the last snapshot (the endpoint refreshes it before each scrape)."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Metric]:
        """The gauges, or nothing before the first refresh."""
        if self.snapshot is None:
            return
        yield from _queue_families(self.snapshot.queues)
        yield from _store_families(self.snapshot.counts)
        yield from _circuit_families(self.snapshot.circuits)
        if self.snapshot.acks is not None:
            yield from _ack_families(self.snapshot.acks)


def exposition(own: CollectorRegistry) -> bytes:
    """The hub's metrics (default registry) followed by the ops gauges, in the text format."""
    return generate_latest(REGISTRY) + generate_latest(own)
