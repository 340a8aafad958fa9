"""What the dashboard shows of delivery acknowledgements and of the broker's resource alarms, and
the broker flow's state as the hub keeps it (no broker needed)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from hub import metrics
from hub.amqp.flow import BrokerFlow
from hub.ops import models
from hub.ops.rabbit_admin import parse_alarms
from hub.store import acks_repo


def test_an_open_acknowledgement_goes_out_with_the_fields_of_its_row() -> None:
    """A column added to the query but not to the answer (or the reverse) is caught here."""
    fields = [f.name for f in dataclasses.fields(acks_repo.OpenAck)]
    assert fields == list(models.AckItem.model_fields)


@pytest.mark.parametrize(
    ("nodes", "alarms"),
    [
        ([], []),
        ([{"name": "rabbit@a", "mem_alarm": False, "disk_free_alarm": False}], []),
        (
            [{"name": "rabbit@a", "mem_alarm": True, "disk_free_alarm": False}],
            ["memory on rabbit@a"],
        ),
        (
            [
                {"name": "rabbit@a", "mem_alarm": False, "disk_free_alarm": True},
                {"name": "rabbit@b", "mem_alarm": True, "disk_free_alarm": True},
            ],
            ["disk on rabbit@a", "memory on rabbit@b", "disk on rabbit@b"],
        ),
        ([{"name": "rabbit@a"}, "not a node"], []),  # fields missing (stats not ready): no alarm
    ],
)
def test_alarms_from_the_management_api(nodes: list[Any], alarms: list[str]) -> None:
    """`/api/nodes` as the management API answers it: which node raises which alarm."""
    assert parse_alarms(nodes) == alarms


def test_an_answer_that_is_not_a_list_of_nodes_is_refused() -> None:
    with pytest.raises(ValueError, match="unexpected"):
        parse_alarms({"error": "not_authorised"})


async def test_the_flow_pauses_and_resumes_once_each() -> None:
    """Blocked and unblocked are idempotent, counted once, and a blocked spell is remembered by
    whoever started waiting before it ended (the publisher's confirm timeout restarts then)."""
    flow = BrokerFlow()
    blocks = metrics.BROKER_BLOCKS._value.get()
    before = time.monotonic()
    assert not _blocked(flow)
    assert not flow.blocked_after(before)
    await flow.wait_open()  # at once
    flow.set_blocked()
    flow.set_blocked()
    assert _blocked(flow)
    assert _since(flow) is not None
    assert metrics.BROKER_BLOCKED._value.get() == 1
    assert metrics.BROKER_BLOCKS._value.get() == blocks + 1
    flow.set_unblocked()
    flow.set_unblocked()
    assert not _blocked(flow)
    assert _since(flow) is None
    assert metrics.BROKER_BLOCKED._value.get() == 0
    assert flow.blocked_after(before)  # blocked at some time since `before`
    assert not flow.blocked_after(time.monotonic())


def _blocked(flow: BrokerFlow) -> bool:  # a call: mypy does not narrow it between assertions
    return flow.blocked


def _since(flow: BrokerFlow) -> object:
    return flow.blocked_since
