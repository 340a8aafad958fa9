"""Whole release-order flows through all four connectors (issue 7, part 1, third bullet): not yet.

A flow is a `court.release_order.issued` taken through the court, SETARIM, custodial-unit and BNMP
connectors with their simulators answering at once, until the order is complied with and
registered. It needs the connectors and simulators of issue 4, so the scenario reports itself as
skipped rather than invent a number.

To fill it in: write `flow_step(spec)` as a worker step (register it in `bench.worker.STEPS` under
"flow"), which runs a `Hub` with the four real `ConnectorSpec`s pointed at in-process simulators,
queues `spec.messages` distinct release orders (each covering a complied warrant seeded first, see
`tests/factories.make_release_order`), and measures with `bench.measure.drain_window` on the
number of orders whose state reached the final one; report orders per second in `rate` and the
per-order latency (issue to compliance) in `latency_ms`. Then make `run_flow` call
`bench.plan.run_step` with it, as `bench.plan` does for the other scenarios.
"""

from __future__ import annotations

from bench.results import StepResult

__all__ = ["SKIP_REASON", "run_flow"]

SKIP_REASON = "needs the four connectors and their simulators (issue 4)"


async def run_flow() -> StepResult:
    """The whole-flow scenario; skipped until the connectors exist (see the module docstring)."""
    return StepResult(step="flow", skipped=SKIP_REASON)
