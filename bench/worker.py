"""`python -m bench.worker SPEC RESULT`: run one measured step in a fresh process.

Each step gets a process of its own, so its CPU (`getrusage`) and its peak RSS (`VmHWM`) are its
own, and nothing a previous step allocated is counted. SPEC and RESULT are JSON files
(`bench.results.StepSpec`, `StepResult`). With `spec.profile` set, py-spy samples the measured
window (`bench.profile`).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import structlog

from bench.results import StepResult, StepSpec
from bench.scenarios.baseline import baseline_hop, baseline_steady
from bench.scenarios.flow import flow_step
from bench.scenarios.hub import backlog_drain, hub_hop, hub_steady, outage_drain, outage_fill

__all__ = ["STEPS", "main"]

STEPS: dict[str, Callable[[StepSpec], Coroutine[Any, Any, StepResult]]] = {
    "baseline": baseline_hop,
    "baseline-steady": baseline_steady,
    "hub-hop": hub_hop,
    "backlog-drain": backlog_drain,
    "hub-steady": hub_steady,
    "outage-fill": outage_fill,
    "outage-drain": outage_drain,
    "flow": flow_step,
}


def _quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def main(argv: list[str]) -> int:
    """Run the step described in the file argv[0]; write its result to the file argv[1]."""
    _quiet()
    spec = StepSpec.model_validate_json(Path(argv[0]).read_text())
    result = asyncio.run(STEPS[spec.step](spec))
    Path(argv[1]).write_text(result.model_dump_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
