"""The fault suite's short version (CI): many orders while hubs are killed and services fail.

One run (module fixture, about two minutes on two cores) on the suite's own RabbitMQ node and
PostgreSQL instance; each test checks one of its invariants. Locally the module skips when those
private services cannot be started; with CI=true it fails.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from sandbox.faults import (
    SHORT,
    FaultOptions,
    PrivateServices,
    Report,
    ServicesUnavailable,
    run_suite,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

# Ports apart from `python -m hub faults` (5690/5442), so a run by hand can go on beside CI's.
SERVICES = PrivateServices(node="hubfaultci", amqp_port=5692, pg_name="hubfaultci", pg_port=5444)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def report(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Report]:
    """Run the short profile once; skip (fail under CI) when the private services cannot start."""
    try:
        await SERVICES.start()
    except ServicesUnavailable as e:
        await SERVICES.remove()
        if os.environ.get("CI"):
            pytest.fail(f"private RabbitMQ/PostgreSQL could not start: {e}")
        pytest.skip(f"private RabbitMQ/PostgreSQL could not start: {e}")
    out: Path = tmp_path_factory.mktemp("faults")
    try:
        result = await run_suite(FaultOptions(SHORT, out, services=SERVICES))
        print(result.render())
        yield result
    finally:
        await SERVICES.remove()


def test_every_order_is_certified_or_parked_with_its_reason(report: Report) -> None:
    """No valid order is lost: each ends certified or in the dead-letter store with a reason."""
    assert report.findings.orders == SHORT.orders
    assert report.findings.lost_orders == []
    assert report.findings.lost_warrants == []
    assert report.findings.certified + sum(report.findings.valid_orders_parked.values()) == (
        report.findings.orders
    )


def test_no_effect_is_duplicated(report: Report) -> None:
    """Each BNMP document is registered once and each person released or kept once."""
    assert report.findings.duplicated_effects == 0
    assert report.findings.bnmp_missing == []
    assert report.findings.bnmp_unexpected == []
    assert report.findings.released + report.findings.kept >= report.findings.certified


def test_two_hub_processes_keep_each_orders_sequence(report: Report) -> None:
    """With two competing hub processes, every transition starts where the last one ended."""
    assert report.hubs == 2
    assert report.findings.transitions > report.findings.orders
    assert report.findings.broken_sequences == []


def test_every_bad_input_is_dead_lettered(report: Report) -> None:
    """Malformed documents and orders the hub must refuse all end parked with their reasons."""
    assert report.findings.bad_inputs >= 8
    assert report.findings.bad_inputs_missing == []


def test_faults_were_injected(report: Report) -> None:
    """Hub processes were killed and restarted; broker, database and external systems failed."""
    assert report.hub_kills == SHORT.kills
    assert report.hub_starts >= SHORT.hubs + SHORT.kills
    for action in ("broker_restart", "pg_restart", "bnmp_down", "bnmp_garbage", "setarim_down"):
        assert report.faults[action] >= 1, action


def test_the_hub_goes_on_after_a_broker_restart(report: Report) -> None:
    """A hub process that lived through the broker restart consumes again, as do all the others."""
    assert report.broker_survivors
    assert all(report.broker_survivors)
    assert report.findings.queues_unconsumed == {}


def test_nothing_is_left_pending_and_the_audit_chain_verifies(report: Report) -> None:
    """No outbox row, deferred delivery or queued message is left; the audit chain verifies."""
    assert report.findings.pending == 0
    assert report.findings.queues_not_empty == {}
    assert report.findings.audit_verifies
    assert report.ok, report.findings.problems
