"""Queue numbers from the management API are read into one shape, by queue name."""

from __future__ import annotations

import pytest

from hub.ops.rabbit_admin import QueueStats, parse_queues, queue_role, vhost_of


def test_management_answer_is_read_per_queue_in_the_given_order() -> None:
    """Ready, unacked, consumers and rates come from the API; a missing queue is all unknown."""
    doc = [
        {
            "name": "hub.bnmp.out",
            "messages_ready": 3,
            "messages_unacknowledged": 1,
            "consumers": 2,
            "message_stats": {
                "publish_details": {"rate": 1.5},
                "deliver_get_details": {"rate": 0.5},
            },
        },
        {"name": "hub.court.in", "messages_ready": 0, "messages_unacknowledged": 0, "consumers": 1},
    ]
    stats = parse_queues(doc, ["hub.court.in", "hub.bnmp.out", "hub.gone.in"])
    assert stats == (
        QueueStats("hub.court.in", 0, 0, 1, None, None),
        QueueStats("hub.bnmp.out", 3, 1, 2, 1.5, 0.5),
        QueueStats("hub.gone.in", None),
    )


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("hub.court.in", "inbound"),
        ("hub.bnmp.out", "outbound"),
        ("hub.custodial_unit.mg.ceresp-bh.out", "unit"),
        ("hub.retry.30s", "retry"),
        ("hub.bnmp.dlq", "dlq"),
    ],
)
def test_queue_roles(name: str, role: str) -> None:
    """Queues are classified by their name, as `hub.domain.topology` names them."""
    assert queue_role(name) == role


@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", "/"),
        ("amqp://guest:guest@127.0.0.1:5672", "/"),
        ("amqp://u:p@h:5672/test-1", "test-1"),
        ("amqp://u:p@h:5672/%2Fhub", "/hub"),
    ],
)
def test_vhost_of_an_amqp_url(url: str, vhost: str) -> None:
    """The vhost is the URL's path, unquoted; none means "/"."""
    assert vhost_of(url) == vhost
