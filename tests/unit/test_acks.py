"""The technical acknowledgement per destination, as tables: what closes a destination, how long
each may stay open, and what the reconciler does about an open one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from contracts.envelope import AnyPayload
from hub.domain.acks import (
    AckPolicy,
    Closing,
    Look,
    Pending,
    QueueState,
    closed_by,
    destinations,
    is_unit_queue,
    reconcile,
)
from hub.domain.outgoing import Outgoing
from hub.domain.topology import unit_queue
from tests.factories import (
    ORDER,
    UNIT,
    make_alert,
    make_compliance,
    make_envelope,
    make_receipt,
    make_registration,
    make_release_order,
    make_validation,
)

U = unit_queue(UNIT)
ISSUED = "court.release_order.issued"
VALIDATED = "setarim.validation.completed"
T = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
POLICY = AckPolicy(
    hub_window=timedelta(seconds=60),
    receipt_window=timedelta(minutes=5),
    answer_window=timedelta(minutes=30),
    max_tries=3,
)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("payload", "closings"),
    [
        (make_receipt(), [Closing(U, ORDER, (ISSUED,), "receipt")]),
        (make_compliance(), [Closing(U, ORDER, (), "compliance")]),
        (make_compliance(released=False), [Closing(U, ORDER, (), "compliance")]),
        (
            make_receipt(unit="mg.ceresp-bh"),
            [Closing(unit_queue("mg.ceresp-bh"), ORDER, (ISSUED,), "receipt")],
        ),
        (make_release_order(), []),
        (make_validation(), []),
        (make_registration(), []),
        (make_alert(), []),
    ],
    ids=lambda v: getattr(v, "kind", None),
)
def test_what_a_message_closes(payload: AnyPayload, closings: list[Closing]) -> None:
    """A unit's receipt closes its release order; its compliance, all it was sent about the
    order; nothing else closes a unit's destination (the hub's consumers close their own)."""
    assert list(closed_by(make_envelope(payload))) == closings


def test_destinations_are_every_queue_of_the_set_once() -> None:
    """One open acknowledgement per queue the one publish reaches (routing key and BCC)."""
    mid = "6f1c0d2e-1b1e-4a55-9c77-0f0b3c1d2e3f"
    m = Outgoing(
        exchange="",
        routing_key="hub.bnmp.out",
        body=b"{}",
        message_id=mid,
        cc=("hub.setarim.out", U, "hub.setarim.out"),
    )
    assert destinations(m) == tuple((UUID(mid), q) for q in ("hub.bnmp.out", "hub.setarim.out", U))


@pytest.mark.parametrize(
    ("queue", "kind", "window"),
    [
        ("hub.bnmp.out", ISSUED, timedelta(seconds=60)),
        ("hub.setarim.out", ISSUED, timedelta(seconds=60)),
        ("hub.court.out", "hub.deadline.alert", timedelta(seconds=60)),
        (U, ISSUED, timedelta(minutes=5)),
        (U, VALIDATED, timedelta(minutes=30)),
        (U, "hub.impediment.referred", timedelta(minutes=30)),
    ],
)
def test_windows(queue: str, kind: str, window: timedelta) -> None:
    """The hub's own queues are delivered in moments; a unit answers an order with its receipt,
    the rest with its compliance certificate."""
    assert POLICY.window(queue, kind) == window
    assert POLICY.shortest == timedelta(seconds=60)


@pytest.mark.parametrize(
    ("queue", "unit"),
    [
        (U, True),
        ("hub.custodial_unit.in", False),
        ("hub.custodial_unit.dlq", False),
        ("hub.bnmp.out", False),
        ("hub.court.in", False),
    ],
)
def test_unit_queues(queue: str, unit: bool) -> None:
    """Only a unit's own `.out` queue is read by someone other than the hub."""
    assert is_unit_queue(queue) is unit


OPEN = QueueState(exists=True, ready=0)
NOW = T + timedelta(minutes=10)


@pytest.mark.parametrize(
    ("pending", "queue", "now", "look"),
    [
        # not yet due: wait until it is, no try counted
        (
            Pending("hub.bnmp.out", ISSUED, T),
            OPEN,
            T + 59 * S,
            Look("wait", False, T + 60 * S, "not yet due"),
        ),
        (
            Pending(U, VALIDATED, T),
            OPEN,
            T + timedelta(minutes=10),
            Look("wait", False, T + timedelta(minutes=30), "not yet due"),
        ),
        (
            Pending("hub.bnmp.out", ISSUED, T, tries=1, next_at=NOW + S),
            OPEN,
            NOW,
            Look("wait", False, NOW + S, "not yet due"),
        ),
        # due and nothing holds it: published again, a try; next look one window on
        (
            Pending("hub.bnmp.out", ISSUED, T),
            OPEN,
            T + 60 * S,
            Look("republish", True, T + 120 * S, "overdue"),
        ),
        (
            Pending(U, ISSUED, T, tries=2, next_at=NOW),
            OPEN,
            NOW,
            Look("republish", True, NOW + timedelta(minutes=5), "overdue"),
        ),
        # the hub holds the delivery, or an operator was told: wait, not a try
        (
            Pending("hub.bnmp.out", ISSUED, T, held="deferred"),
            None,
            NOW,
            Look("wait", False, NOW + 60 * S, "deferred"),
        ),
        (
            Pending("hub.setarim.out", ISSUED, T, tries=3, held="dead_letter"),
            None,
            NOW,
            Look("wait", False, NOW + 60 * S, "dead_letter"),
        ),
        # tried enough: alert, and no further look
        (
            Pending("hub.bnmp.out", ISSUED, T, tries=3, next_at=NOW),
            OPEN,
            NOW,
            Look("alert", False, None, "not acknowledged after 3 tries"),
        ),
        (
            Pending(U, ISSUED, T, tries=3, next_at=NOW),
            QueueState(exists=False),
            NOW,
            Look("alert", False, None, "not acknowledged after 3 tries"),
        ),
        # the queue is missing (the healer declares it again) or holds a backlog: a try, no copy
        (
            Pending(U, ISSUED, T),
            QueueState(exists=False),
            NOW,
            Look("wait", True, NOW + timedelta(minutes=5), "queue missing"),
        ),
        (
            Pending("hub.bnmp.out", ISSUED, T, tries=1, next_at=NOW),
            QueueState(exists=True, ready=5000),
            NOW,
            Look("wait", True, NOW + 60 * S, "queue holds a backlog"),
        ),
        # the broker could not say: wait, not a try
        (
            Pending("hub.bnmp.out", ISSUED, T),
            None,
            NOW,
            Look("wait", False, NOW + 60 * S, "queue not inspected"),
        ),
    ],
)
def test_reconcile(pending: Pending, queue: QueueState | None, now: datetime, look: Look) -> None:
    """The reconciler's decision on one open destination."""
    assert reconcile(pending, queue, now, POLICY) == look


def test_no_tries_alerts_at_the_first_look() -> None:
    """With `max_tries` 0 the reconciler only tells, and never publishes again."""
    policy = AckPolicy(max_tries=0)
    look = reconcile(Pending("hub.bnmp.out", ISSUED, T), OPEN, NOW, policy)
    assert look == Look("alert", False, None, "not acknowledged after 0 tries")
