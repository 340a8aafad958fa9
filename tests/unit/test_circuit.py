"""The circuit breaker opens after repeated failures, probes on a schedule and closes on success."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.circuit import Circuit, CircuitPolicy

T = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
P = CircuitPolicy(threshold=3, probe_every=timedelta(seconds=5))


@pytest.mark.parametrize(
    ("failures", "state"), [(1, "closed"), (2, "closed"), (3, "open"), (4, "open")]
)
def test_opens_at_the_threshold(failures: int, state: str) -> None:
    """Three failures in a row open the circuit; fewer keep it closed."""
    c = Circuit()
    for i in range(failures):
        c = c.failed(T + timedelta(seconds=i), P)
    assert c.state == state
    assert c.down_since == T


def test_a_success_resets_everything() -> None:
    """A success closes the circuit and clears the outage."""
    c = Circuit().failed(T, P).failed(T, P).failed(T, P).succeeded(T + timedelta(minutes=1))
    assert (c.state, c.failures, c.down_since) == ("closed", 0, None)


@pytest.mark.parametrize(
    ("since_probe", "due"),
    [(None, True), (timedelta(seconds=4), False), (timedelta(seconds=5), True)],
)
def test_an_open_circuit_probes_on_schedule(since_probe: timedelta | None, due: bool) -> None:
    """An open circuit is probed at most every `probe_every`."""
    c = Circuit(state="open", failures=3, down_since=T)
    now = T + timedelta(minutes=1)
    if since_probe is not None:
        c = c.probed(now - since_probe)
    assert c.probe_due(now, P) is due


def test_a_closed_circuit_never_probes() -> None:
    """Probing is only for an open circuit."""
    assert Circuit().probe_due(T, P) is False
