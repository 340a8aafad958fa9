"""The Prometheus alert rules are valid and known to fire: promtool checks them and runs their unit
tests (deploy/prometheus/alerts.test.yml), every alert has a case where it fires and one where it
stays quiet, and the Grafana dashboard's queries are valid PromQL.

promtool comes from Debian's `prometheus` package (`bash deploy/tools.sh`); without it these tests
skip locally and fail under CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy/prometheus"
RULES = PROMETHEUS / "alerts.yml"
RULE_TESTS = PROMETHEUS / "alerts.test.yml"
DASHBOARD = PROMETHEUS.parent / "grafana/hub-dashboard.json"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool (skip locally, fail under CI=true, when it is not installed)."""
    tool = shutil.which("promtool")
    if tool is None:
        message = "promtool missing (run `bash deploy/tools.sh`: Debian's prometheus package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, check=False)


def _passes(run: subprocess.CompletedProcess[str]) -> None:
    assert run.returncode == 0, f"promtool {' '.join(run.args[1:])}:\n{run.stdout}{run.stderr}"


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_alert_rules_and_the_prometheus_config_are_valid() -> None:
    """`promtool check rules` accepts alerts.yml (PromQL, templates, durations), and the scrape
    configuration's syntax is valid (its token file exists only where Prometheus runs)."""
    _passes(_promtool("check", "rules", str(RULES)))
    _passes(_promtool("check", "config", "--syntax-only", str(PROMETHEUS / "prometheus.yml")))


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_expect() -> None:
    """`promtool test rules` passes: each case's alerts, labels and rendered annotations."""
    _passes(_promtool("test", "rules", str(RULE_TESTS)))


def test_every_alert_has_a_case_where_it_fires_and_one_where_it_does_not() -> None:
    """A rule added to alerts.yml without unit tests fails here, as does a test of a rule that no
    longer exists (promtool would pass it silently: an unknown alert never fires)."""
    tests = yaml.safe_load(RULE_TESTS.read_text())
    assert tests["rule_files"] == [RULES.name]
    cases = [case for test in tests["tests"] for case in test.get("alert_rule_test", [])]
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    names = [rule["alert"] for rule in _alerts()]
    assert len(names) == len(set(names)), "two alerts share a name"
    assert sorted(set(names) - firing) == [], "alerts without a case where they fire"
    assert sorted(set(names) - quiet) == [], "alerts without a case where they stay quiet"
    assert sorted((firing | quiet) - set(names)) == [], "tests of alerts that do not exist"


def test_the_grafana_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Each panel's query, checked by promtool as a recording rule (Grafana would show an error)."""
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [*dashboard["panels"], *(q for p in dashboard["panels"] for q in p.get("panels", []))]
    exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
    assert len(exprs) >= len(panels)
    rules = [{"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(exprs)]
    queries = tmp_path / "dashboard-queries.yml"
    queries.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    _passes(_promtool("check", "rules", str(queries)))
