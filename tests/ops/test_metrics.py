"""/metrics exports, from the start, every series an alert rule or the Grafana dashboard reads.

A gauge without samples makes `absent()`-style rules fire and `sum(...) > 0` ones go silent
without a word; so the deadlines by kind and each connector's circuit are exported at 0 (or up)
before any traffic. The PromQL reading the dashboard check uses is tested here as a table.
"""

from __future__ import annotations

import pytest

from contracts import DeadlineKind
from hub.domain.topology import CONNECTORS
from hub.ops.prom import OpsCollector, Snapshot
from hub.ops.rabbit_admin import QueueReport
from hub.ops.stats import Gauges
from hub.settings import HubSettings
from hub.store.ops_stats import Circuit

from .promql import Exposition, label_names, legend_labels, metric_names
from .scenario import METRICS, ops_settings_of, running


async def test_deadlines_and_connectors_are_exported_before_any_traffic(
    settings: HubSettings,
) -> None:
    """A hub with no order yet exports open and overdue deadlines of every kind at 0, and every
    connector's circuit as up (1) with nothing deferred."""
    s = ops_settings_of(settings)
    async with running(s) as r:
        answer = await r.client.get("/metrics", headers=METRICS)
    assert answer.status_code == 200
    values = Exposition(answer.text).values()
    expected = {
        **{f'hub_deadlines_open{{kind="{k.value}"}}': 0.0 for k in DeadlineKind},
        **{f'hub_deadlines_overdue{{kind="{k.value}"}}': 0.0 for k in DeadlineKind},
        **{f'hub_connector_up{{connector="{c}"}}': 1.0 for c in CONNECTORS},
        **{f'hub_connector_deferred{{connector="{c}"}}': 0.0 for c in CONNECTORS},
    }
    exported = {series: values.get(series) for series in expected}
    assert exported == expected


def _series(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}" if inner else name


def _collected(snapshot: Snapshot) -> dict[str, float]:
    collector = OpsCollector()
    collector.snapshot = snapshot
    return {
        _series(s.name, s.labels): s.value for family in collector.collect() for s in family.samples
    }


def test_an_open_circuit_and_open_deadlines_are_counted_among_the_zeros() -> None:
    """The zeros fill in around what the store has: BNMP's open circuit is down (0) with its
    deferred deliveries, a connector whose circuit closed again is up, the others up; counted
    deadline kinds keep their numbers, the others show 0."""
    bnmp = Circuit("bnmp", "open", 5, None, None, None, deferred=3)
    court = Circuit("court", "closed", 0, None, None, None, deferred=0)
    counts = Gauges([], [("compliance", 2, 1)], [], 0, 0.0, 0)
    got = _collected(Snapshot(QueueReport("none", ()), counts, {"bnmp": bnmp, "court": court}))
    assert got['hub_connector_up{connector="bnmp"}'] == 0.0
    assert got['hub_connector_deferred{connector="bnmp"}'] == 3.0
    assert {c: got[f'hub_connector_up{{connector="{c}"}}'] for c in CONNECTORS if c != "bnmp"} == {
        "court": 1.0,
        "setarim": 1.0,
        "custodial_unit": 1.0,
    }
    assert got['hub_deadlines_open{kind="compliance"}'] == 2.0
    assert got['hub_deadlines_overdue{kind="compliance"}'] == 1.0
    assert got['hub_deadlines_open{kind="receipt"}'] == 0.0
    assert sum(name.startswith("hub_deadlines_open{") for name in got) == len(DeadlineKind)


@pytest.mark.parametrize(
    ("expr", "names", "labels"),
    [
        (
            "hub_outbox_oldest_unconfirmed_seconds > 60",
            {"hub_outbox_oldest_unconfirmed_seconds"},
            set(),
        ),
        ('sum(hub_dead_letters{status="parked"}) or vector(0)', {"hub_dead_letters"}, {"status"}),
        ("count(hub_connector_up == 0) or vector(0)", {"hub_connector_up"}, set()),
        (
            "histogram_quantile(0.95, sum by (le, queue) (rate(h_seconds_bucket[5m]))) > 1",
            {"h_seconds_bucket"},
            {"le", "queue"},
        ),
        (
            'hub_queue_consumers{role="unit"} == 0 and hub_queue_messages_ready{role=~"u|x"} > 0',
            {"hub_queue_consumers", "hub_queue_messages_ready"},
            {"role"},
        ),
        (
            "sum(rate(a_total[5m] offset 1h)) without (instance) / on (job) group_left (zone) b",
            {"a_total", "b"},
            {"instance", "job", "zone"},
        ),
        ('up{job="hub", __name__!="x"} == 0', {"up"}, {"job"}),
        ('label_replace(x, "dst", "$1", "src", "(.*)")', {"x"}, set()),
        ('{__name__="named_only"}', set(), set()),
        ("1e3 * 2.5 + inf", set(), set()),
    ],
)
def test_promql_metric_and_label_names(expr: str, names: set[str], labels: set[str]) -> None:
    """Metric names are the identifiers that are not calls, keywords or strings; label names are
    those matched on or grouped by."""
    assert metric_names(expr) == names
    assert label_names(expr) == labels


def test_legend_labels_and_an_exposition_read() -> None:
    """Legends name labels in {{ }}; a scrape's names include a histogram's series."""
    assert legend_labels("ladder {{queue}} {{ role }} %") == {"queue", "role"}
    text = (
        "# HELP h_seconds latency\n# TYPE h_seconds histogram\n"
        'h_seconds_bucket{queue="q",le="0.5"} 1.0\n'
        "# TYPE g gauge\n"
        "# TYPE c_total counter\n"
        'c_total{kind="k \\"quoted\\" = x"} 2.0\n'
    )
    read = Exposition(text)
    assert read.names() == {
        "h_seconds",
        "h_seconds_bucket",
        "h_seconds_sum",
        "h_seconds_count",
        "h_seconds_created",
        "g",
        "c_total",
    }
    assert read.labels() == {"h_seconds_bucket": {"queue", "le"}, "c_total": {"kind"}}
    assert read.values()['h_seconds_bucket{queue="q",le="0.5"}'] == 1.0
