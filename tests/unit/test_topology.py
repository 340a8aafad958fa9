"""The topology is data: names, arguments and bindings, checked as tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.domain.topology import (
    DLX,
    RETRY_EXCHANGE,
    build_topology,
    connector_of,
    dead_letter_of,
    retry_label,
    retry_queue,
    to_definitions,
    unit_queue,
)
from hub.settings import HubSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("delay", "label"),
    [(5, "5s"), (30, "30s"), (120, "2m"), (600, "10m"), (3600, "1h"), (0.3, "300ms"), (90, "90s")],
)
def test_retry_labels_are_exact(delay: float, label: str) -> None:
    """Each rung's label states its delay exactly, so two rungs never share a queue."""
    assert retry_label(delay) == label
    assert retry_queue(delay) == f"{RETRY_EXCHANGE}.{label}"


@pytest.mark.parametrize(
    ("queue", "connector", "dlq"),
    [
        ("hub.court.in", "court", "hub.court.dlq"),
        ("hub.bnmp.out", "bnmp", "hub.bnmp.dlq"),
        ("hub.setarim.out", "setarim", "hub.setarim.dlq"),
        ("hub.custodial_unit.in", "custodial_unit", "hub.custodial_unit.dlq"),
        (unit_queue("mg.presidio-bh-01"), "custodial_unit", "hub.custodial_unit.dlq"),
    ],
)
def test_each_queue_belongs_to_a_connector_and_its_dlq(
    queue: str, connector: str, dlq: str
) -> None:
    """A work queue's connector and dead-letter queue follow from its name."""
    assert connector_of(queue) == connector
    assert dead_letter_of(queue) == dlq


@pytest.mark.parametrize("name", ["hub.retry.5s", "other.court.in", "hub.nobody.in", "hub"])
def test_foreign_queue_names_have_no_connector(name: str) -> None:
    """Names outside the families are refused rather than guessed."""
    with pytest.raises(KeyError):
        connector_of(name)


def test_work_queues_are_quorum_with_limit_and_at_least_once_dead_lettering() -> None:
    """Every work queue is a quorum queue with an explicit delivery limit and at-least-once DLX."""
    topo = build_topology(["mg.u1"], (5, 30), delivery_limit=4)
    work = topo.work_queues()
    assert set(work) == {
        "hub.court.in",
        "hub.setarim.in",
        "hub.custodial_unit.in",
        "hub.bnmp.in",
        "hub.court.out",
        "hub.setarim.out",
        "hub.bnmp.out",
        "hub.custodial_unit.mg.u1.out",
    }
    for name in work:
        args = topo.queue(name).arguments
        assert args["x-queue-type"] == "quorum"
        assert args["x-delivery-limit"] == 4
        assert args["x-dead-letter-exchange"] == DLX
        assert args["x-dead-letter-routing-key"] == connector_of(name)
        assert args["x-dead-letter-strategy"] == "at-least-once"
        assert args["x-overflow"] == "reject-publish"


def test_retry_rungs_expire_back_to_the_default_exchange() -> None:
    """A rung holds messages for its TTL, then dead-letters them by their original routing key."""
    topo = build_topology([], (30, 5))
    for delay in (5, 30):
        args = topo.queue(retry_queue(delay)).arguments
        assert args["x-message-ttl"] == int(delay * 1000)
        assert args["x-dead-letter-exchange"] == ""
        assert "x-dead-letter-routing-key" not in args
    binds = [b for b in topo.bindings if b.source == RETRY_EXCHANGE]
    assert [b.arguments["hub-retry-level"] for b in binds] == ["5s", "30s"]


def test_each_connector_has_one_dlq_bound_to_the_dlx() -> None:
    """Each connector's DLQ receives what the DLX routes with the connector's name."""
    topo = build_topology([], (5,))
    dlx_bindings = {(b.routing_key, b.destination) for b in topo.bindings if b.source == DLX}
    assert dlx_bindings == {
        (c, f"hub.{c}.dlq") for c in ("court", "setarim", "custodial_unit", "bnmp")
    }


def test_committed_definitions_match_the_code() -> None:
    """deploy/rabbitmq/definitions.json is what `python -m hub topology` generates."""
    settings = HubSettings()
    expected = to_definitions(
        build_topology(settings.units, settings.retry.ladder_s, settings.rabbit.delivery_limit)
    )
    committed = json.loads((ROOT / "deploy/rabbitmq/definitions.json").read_text())
    committed.pop("users", None)
    committed.pop("permissions", None)
    committed.pop("topic_permissions", None)
    assert committed == expected, (
        "deploy/rabbitmq/definitions.json drifted: run `python -m hub topology`"
    )
