"""What the dashboard reads from the real hub: queues, connectors, deadlines, timeline, metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import yaml

from contracts.envelope import AnyPayload
from hub.settings import HubSettings
from tests.factories import (
    ORDER,
    make_compliance,
    make_receipt,
    make_release_order,
    make_validation,
)
from tests.integration.harness import database, wait_for

from .promql import Exposition, label_names, legend_labels, metric_names
from .scenario import METRICS, VIEWER, FakeBnmp, Running, ops_settings_of, publish, running

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


async def _state(settings: HubSettings) -> str | None:
    async with database(settings) as db:
        found = await db.fetchval("SELECT state FROM release_orders WHERE order_number = $1", ORDER)
    return found if isinstance(found, str) else None


async def _step(r: Running, exchange: str, payload: AnyPayload, state: str) -> None:
    await publish(r.settings, exchange, payload)

    async def reached() -> bool:
        return await _state(r.settings) == state

    await wait_for(reached, what=f"the order to be {state}")


async def test_queues_come_from_the_management_api_and_fall_back_to_amqp(
    settings: HubSettings,
) -> None:
    """With the management API the view has rates and unacked; without it, depths still show."""
    s = ops_settings_of(settings)
    async with running(s) as r:
        await publish(s, "hub.court.in", make_release_order())
        await wait_for(lambda: _state(s), what="the order")

        async def counted() -> dict[str, Any] | None:
            # The management API refreshes its statistics every few seconds.
            view: dict[str, Any] = (await r.client.get("/api/queues", headers=VIEWER)).json()
            by_name = {q["name"]: q for q in view["queues"]}
            ok = by_name["hub.setarim.out"]["ready"] == 1 and by_name["hub.court.in"]["consumers"]
            return view if ok else None

        view = await wait_for(counted, what="the management API to count the SETARIM delivery")
        assert view["source"] == "management"
        assert view["problem"] is None
        by_name = {q["name"]: q for q in view["queues"]}
        assert by_name["hub.court.in"]["consumers"] == 1
        assert by_name["hub.court.in"]["unacked"] == 0
        assert by_name["hub.setarim.out"]["role"] == "outbound"
        assert {q["name"] for q in view["ladder"]} == {"hub.retry.300ms", "hub.retry.600ms"}
    broken = s.model_copy(
        update={"rabbit": s.rabbit.model_copy(update={"management_url": "http://127.0.0.1:1/"})}
    )
    async with running(broken) as r:
        view = (await r.client.get("/api/queues", headers=VIEWER)).json()
    assert view["source"] == "amqp"
    assert "management API" in view["problem"]
    by_name = {q["name"]: q for q in view["queues"]}
    assert by_name["hub.setarim.out"]["ready"] == 1
    assert by_name["hub.court.in"]["consumers"] == 1
    assert by_name["hub.court.in"]["unacked"] is None
    assert view["totals"]["unacked"] is None


async def test_connectors_show_activity_and_probe_results(settings: HubSettings) -> None:
    """Each connector shows its last success, error rate and its synthetic probe's answer."""

    async def answers() -> None:
        return None

    async def refuses() -> None:
        raise ConnectionError("court webhook refused the connection")

    s = ops_settings_of(settings)
    probes = {"bnmp": answers, "court": refuses}
    bnmp = FakeBnmp()
    bnmp.accept_all()
    async with running(s, bnmp, probes=probes) as r:
        await publish(s, "hub.court.in", make_release_order())

        async def registered() -> bool:
            async with database(s) as db:
                return bool(await db.fetchval("SELECT bnmp_id FROM release_orders"))

        await wait_for(registered, what="the registration")
        view = (await r.client.get("/api/connectors", headers=VIEWER)).json()
    by_name = {c["name"]: c for c in view}
    assert set(by_name) == {"court", "setarim", "custodial_unit", "bnmp"}
    # One order: consumed once from hub.court.in, delivered once from hub.bnmp.out; nothing else.
    processed = {name: c["processed_1h"] for name, c in by_name.items()}
    assert processed == {"court": 1, "bnmp": 1, "setarim": 0, "custodial_unit": 0}
    for name, c in by_name.items():
        assert (c["dead_lettered_1h"], c["parked"], c["deferred"]) == (0, 0, 0), name
        assert c["error_rate_1h"] == 0.0, name
    assert by_name["bnmp"]["last_success"] is not None
    assert by_name["court"]["last_success"] is not None
    assert by_name["setarim"]["last_success"] is None
    assert by_name["bnmp"]["probe"]["ok"] is True
    assert by_name["court"]["probe"]["ok"] is False
    assert "refused the connection" in by_name["court"]["probe"]["error"]
    assert by_name["setarim"]["probe"] == {"configured": False}
    assert [q["name"] for q in by_name["bnmp"]["queues"]] == ["hub.bnmp.in", "hub.bnmp.out"]


async def test_acknowledgements_and_the_timeline_of_one_order(settings: HubSettings) -> None:
    """An order walked to compliance shows in the state counts, the distribution, its timeline."""
    s = ops_settings_of(settings)
    async with running(s) as r:
        await _step(r, "hub.court.in", make_release_order(), "dispatched")
        await _step(r, "hub.custodial_unit.in", make_receipt(), "received")
        await _step(r, "hub.setarim.in", make_validation(), "ready")
        await _step(r, "hub.custodial_unit.in", make_compliance(), "complied_released")
        acks = (await r.client.get("/api/acknowledgements", headers=VIEWER)).json()
        timeline = (await r.client.get(f"/api/timeline/{ORDER}", headers=VIEWER)).json()
        orders = (await r.client.get("/api/orders", headers=VIEWER)).json()
        missing = await r.client.get(f"/api/timeline/{ORDER[:-1]}9", headers=VIEWER)
    assert acks["orders_by_state"] == {"complied_released": 1}
    assert acks["time_to_compliance"]["count"] == 1
    kinds = {d["kind"]: d for d in acks["deadlines"]}
    assert kinds["compliance"]["met"] == 1
    assert kinds["receipt"]["met"] == 1
    assert timeline["order"]["state"] == "complied_released"
    transitions = [e["label"] for e in timeline["events"] if "→" in e["label"]]
    assert transitions == [
        "new → dispatched",
        "dispatched → received",
        "received → ready",
        "ready → complied_released",
    ]
    assert any(e["label"].startswith("compliance deadline met") for e in timeline["events"])
    assert [o["order_number"] for o in orders] == [ORDER]
    assert "document" not in orders[0]
    assert missing.status_code == 404


PROMETHEUS_OWN = {"up"}  # the series Prometheus adds for each target it scrapes


def _queries() -> list[tuple[str, str, set[str]]]:
    """Each Grafana panel's queries and each alert rule: where, the PromQL, the labels it shows
    (a legend's {{label}}, an annotation's $labels.label)."""
    dashboard = json.loads((DEPLOY / "grafana/hub-dashboard.json").read_text())
    panels = [*dashboard["panels"], *(q for p in dashboard["panels"] for q in p.get("panels", []))]
    found = [
        (f"panel {p['title']!r}", t["expr"], legend_labels(t.get("legendFormat", "")))
        for p in panels
        for t in p.get("targets", [])
    ]
    groups = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())["groups"]
    for rule in (r for g in groups for r in g["rules"]):
        shown = set(re.findall(r"\$labels\.(\w+)", json.dumps(rule.get("annotations", {}))))
        found.append((f"alert {rule['alert']}", rule["expr"], shown))
    return found


def _mismatches(scrape: Exposition) -> tuple[list[str], int]:
    """Metric names the queries use that the scrape lacks, and label names they use that the
    named series do not carry (checked where the scrape has samples of every series named:
    the second number says for how many queries)."""
    exported, labels = scrape.names(), scrape.labels()
    problems: list[str] = []
    checked = 0
    for where, expr, shown in _queries():
        names = metric_names(expr)
        problems += [f"{where}: no {n}" for n in sorted(names - exported - PROMETHEUS_OWN)]
        if names and names <= set(labels):
            checked += 1
            carried = set().union(*(labels[n] for n in names))
            used = label_names(expr) | shown
            problems += [f"{where}: no label {label}" for label in sorted(used - carried)]
    return problems, checked


async def test_metrics_export_what_the_alerts_and_the_grafana_dashboard_use(
    settings: HubSettings,
) -> None:
    """/metrics has the hub's own metrics and the queue depths; every Grafana panel's query and
    every alert rule names only metrics it exports, with labels those carry."""
    s = ops_settings_of(settings)
    async with running(s, FakeBnmp()) as r:
        await publish(s, "hub.court.in", make_release_order())
        await wait_for(r.parked, what="a dead letter")

        async def scraped() -> httpx.Response | None:
            # Prometheus' own token; the management API lags a few seconds.
            answer = await r.client.get("/metrics", headers=METRICS)
            return answer if 'queue="hub.setarim.out",role="outbound"} 1.0' in answer.text else None

        answer = await wait_for(scraped, what="the SETARIM delivery in the queue gauges")
    text = answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    assert 'hub_queue_messages_ready{queue="hub.setarim.out",role="outbound"} 1.0' in text
    assert 'hub_dead_letters{connector="bnmp",status="parked"} 1.0' in text
    assert 'hub_release_orders{state="dispatched"} 1.0' in text
    assert 'hub_queue_stats_source{source="management"} 1.0' in text
    assert "hub_messages_handled_total{" in text
    assert "hub_message_handle_seconds_bucket{" in text
    problems, labelled = _mismatches(Exposition(text))
    assert problems == []
    assert len({n for _w, expr, _s in _queries() for n in metric_names(expr)}) >= 20
    assert labelled >= 30  # all but those of counters this scenario never increments


def test_the_grafana_dashboard_uses_the_provisioned_datasource() -> None:
    """Every panel queries the Prometheus datasource that deploy/grafana provisions."""
    dashboard = json.loads((DEPLOY / "grafana/hub-dashboard.json").read_text())
    provisioned = (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    uid = re.search(r"uid: (\S+)", provisioned)
    assert uid is not None
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {uid.group(1)}
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
