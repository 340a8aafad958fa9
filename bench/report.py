"""The bench's output: a plain-text table for people, and a JSON document for the record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["NOTE", "table", "write_json"]

NOTE = (
    "latency in ms; cpu in ms per message; app = the process under test\n"
    "flow: counted in release orders (ord, ord/s), not messages; its latency is issue to certified"
    " and its cpu is ms per order (an order is about 11 hub messages and 8 HTTP calls)"
)

_HEAD = (
    "scenario",
    "msgs",
    "s",
    "msg/s",
    "ratio",
    "p50",
    "p95",
    "p99",
    "cpu app",
    "cpu rmq",
    "cpu pg",
    "RSS MB",
)
_RATIO_OF = {
    "hub-hop": "hub-hop / baseline",
    "backlog": "backlog drain / hub-hop",
    "outage": "outage drain / hub-hop",
}
_RATIO_UNIT = {"hub-hop": "x base", "backlog": "x hop", "outage": "x hop"}


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.{digits}f}"
    return f"{int(v)}"


def _cells(row: dict[str, Any], ratios: dict[str, dict[str, Any]]) -> list[str]:
    name = row["scenario"]
    if row.get("skipped"):
        return [name, f"skipped: {row['skipped']}"]
    ratio = ratios.get(_RATIO_OF.get(name, ""), {}).get("median")
    lat, cpu = row["latency_ms"], row["cpu_ms_per_msg"]
    orders = row.get("unit") == "orders"  # the whole flow counts release orders, not messages
    return [
        name,
        _fmt(row["messages"]) + (" ord" if orders else ""),
        _fmt(row["seconds"], 2),
        f"{_fmt(row['rate'], 1)} ord/s" if orders else _fmt(row["rate"], 0),
        f"{ratio:.2f}{_RATIO_UNIT[name]}" if ratio is not None else "",
        _fmt(lat["p50"]),
        _fmt(lat["p95"]),
        _fmt(lat["p99"]),
        _fmt(cpu["app"], 3),
        _fmt(cpu["rabbitmq"], 3),
        _fmt(cpu["postgres"], 3),
        _fmt(row["peak_rss_mb"], 0),
    ]


def table(rows: Sequence[dict[str, Any]], ratios: dict[str, dict[str, Any]]) -> str:
    """The summary as an aligned text table (latency in ms, CPU in ms per message).

    A row counted in release orders (the whole flow) says so in its cells: `ord`, `ord/s`; its
    CPU is per order (`NOTE` explains it under the table).
    """
    lines = [list(_HEAD)] + [_cells(r, ratios) for r in rows]
    full = [line for line in lines if len(line) == len(_HEAD)]
    widths = [max(len(line[i]) for line in full) for i in range(len(_HEAD))]
    out = []
    for line in lines:
        if len(line) != len(_HEAD):
            out.append(f"{line[0]:<{widths[0]}}  {line[1]}")
            continue
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells))
    return "\n".join(out)


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write the run's document (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
