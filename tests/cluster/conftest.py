"""Attach the RabbitMQ nodes' logs to every failure of the cluster test."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.cluster.nodes import CLUSTER_DIR, node_logs


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failure or an error here, add the tail of each node's logs to the report."""
    report = yield
    if report.failed and CLUSTER_DIR.is_dir():
        report.sections.append(("RabbitMQ cluster: the nodes' logs", node_logs()))
    return report
