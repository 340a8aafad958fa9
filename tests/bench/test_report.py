"""The bench's table says what it counts: messages for the hops, release orders for the flow."""

from __future__ import annotations

from typing import Any

from bench.report import NOTE, table


def _row(name: str, unit: str, messages: float, rate: float) -> dict[str, Any]:
    return {
        "scenario": name,
        "unit": unit,
        "messages": messages,
        "seconds": 10.0,
        "rate": rate,
        "latency_ms": {"p50": 900.5, "p95": 1500.0, "p99": 2400.0},
        "cpu_ms_per_msg": {"app": 50.1, "rabbitmq": 12.0, "postgres": 3.4},
        "peak_rss_mb": 110.0,
    }


def test_the_flow_row_is_in_orders_per_second_and_the_hop_rows_in_messages() -> None:
    """The flow's count and rate carry their unit; the other rows stay plain numbers."""
    rows = [_row("hub-hop", "messages", 20000, 319.4), _row("flow", "orders", 1990, 14.78)]
    hop, flow = table(rows, {}).splitlines()[1:]
    assert "ord" not in hop
    assert hop.split()[3] == "319"
    assert flow.split()[1:3] == ["1990", "ord"]
    assert "14.8 ord/s" in flow
    assert "orders/s" in NOTE or "ord/s" in NOTE


def test_a_skipped_row_still_prints_its_reason() -> None:
    """A scenario that could not run says why instead of inventing numbers."""
    out = table([{"scenario": "flow", "skipped": "no simulators"}], {})
    assert out.splitlines()[1] == "flow      skipped: no simulators"
