"""The benchmark runs end to end in its quick mode; it proves the machinery, not the performance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.options import DEFAULT_SCENARIOS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(600)
def test_quick_run_writes_every_scenario_with_positive_rates(
    services: None, tmp_path: Path
) -> None:
    """`python -m bench --quick` on 200 messages (20 whole release-order flows) saves a JSON row
    per scenario, each with a rate."""
    out = tmp_path / "run.json"
    cmd = [sys.executable, "-m", "bench", "--quick", "--messages", "200", "--duration", "1"]
    cmd += ["--orders", "20", "--in-flight", "10"]
    done = subprocess.run(
        [*cmd, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=580
    )
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(out.read_text())
    rows = {row["scenario"]: row for row in doc["summary"]}
    assert set(rows) == set(DEFAULT_SCENARIOS)
    for row in rows.values():
        assert not row.get("skipped"), row
        assert row["rate"] > 0, row
        assert row["messages"] > 0, row
        assert row["cpu_ms_per_msg"]["app"] > 0, row
    assert "hub-hop / baseline" in doc["ratios"]
    _check_flow(rows["flow"], doc["rounds"][0]["flow"])
    assert "scenario" in done.stdout  # the table was printed
    assert "ord/s" in done.stdout  # the flow's rate is in orders per second, and says so


def _check_flow(row: dict[str, Any], run: dict[str, Any]) -> None:
    """Every order certified, each with a latency; nothing dead-lettered; nobody released twice.

    (A retry under a loaded machine's timeouts is the hub's business, not a failure of the bench.)
    """
    assert row["unit"] == "orders"
    assert not {"dead_letters", "not_certified"} & set(run["errors"]), run["errors"]
    assert run["extra"]["certified"] == 20
    assert run["latency_ms"]["count"] == 20
    assert 0 < row["latency_ms"]["p50"] <= row["latency_ms"]["p99"]
    units = run["extra"]["simulators"]["units"]
    assert units["released"] == 20
    assert units["released_twice"] == 0
