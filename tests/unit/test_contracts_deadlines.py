"""Deadline rules: what starts them, what meets them, which alerts are due, per state."""

from __future__ import annotations

import itertools
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from contracts import (
    ContractError,
    Deadline,
    DeadlineKind,
    DeadlinePolicy,
    IllegalTransition,
    ReleaseOrderState,
    deadlines_carried,
    deadlines_started_by,
    satisfied_by,
    thresholds_crossed,
    transition_release,
)
from contracts.envelope import AnyPayload
from tests.factories import (
    T0,
    make_alert,
    make_compliance,
    make_receipt,
    make_referral,
    make_registration,
    make_rejection,
    make_release_order,
    make_validation,
    make_warrant,
)

K = DeadlineKind
POLICY = DeadlinePolicy()
AT = T0 + timedelta(minutes=3)


def test_policy_defaults_and_overrides() -> None:
    """Compliance runs 24 h; receipt and validation default to 1 h and 2 h and can change."""
    assert POLICY.span(K.COMPLIANCE) == timedelta(hours=24)
    assert (POLICY.span(K.RECEIPT), POLICY.span(K.VALIDATION)) == (
        timedelta(hours=1),
        timedelta(hours=2),
    )
    assert DeadlinePolicy(receipt=timedelta(minutes=30)).span(K.RECEIPT) == timedelta(minutes=30)
    with pytest.raises(ValidationError, match="greater than"):
        DeadlinePolicy(receipt=timedelta(0))


def test_a_release_order_starts_receipt_validation_and_compliance() -> None:
    """Receipt and validation run from dispatch; compliance runs 24 h from the order's issue."""
    started = {d.kind: d for d in deadlines_started_by(make_release_order(), AT, POLICY)}
    assert set(started) == {K.RECEIPT, K.VALIDATION, K.COMPLIANCE}
    assert started[K.RECEIPT].due_at == AT + timedelta(hours=1)
    assert started[K.VALIDATION].due_at == AT + timedelta(hours=2)
    assert (started[K.COMPLIANCE].started_at, started[K.COMPLIANCE].due_at) == (
        T0,
        T0 + timedelta(hours=24),
    )


@pytest.mark.parametrize(
    ("payload", "kinds"),
    [
        pytest.param(
            make_release_order(contingency=True, outage_started_at=T0 - timedelta(hours=2)),
            {K.RECEIPT, K.VALIDATION, K.COMPLIANCE, K.BNMP_REGISTRATION},
            id="contingency-order-must-be-registered",
        ),
        pytest.param(
            make_validation(impeded=True), {K.IMPEDIMENT_REGULARISATION}, id="impeded-validation"
        ),
        pytest.param(make_validation(), set(), id="cleared-validation"),
        pytest.param(make_compliance(), {K.BNMP_REGISTRATION}, id="compliance-certificate"),
        pytest.param(make_receipt(), set(), id="receipt"),
        pytest.param(make_warrant(), set(), id="warrant"),
    ],
)
def test_deadlines_started_by(payload: AnyPayload, kinds: set[K]) -> None:
    """Each payload starts exactly the deadlines of domain.md section 4 it triggers."""
    assert {d.kind for d in deadlines_started_by(payload, AT, POLICY)} == kinds


@pytest.mark.parametrize(
    ("payload", "kinds"),
    [
        pytest.param(make_receipt(), {K.RECEIPT}, id="receipt"),
        pytest.param(make_validation(), {K.VALIDATION, K.IMPEDIMENT_REGULARISATION}, id="cleared"),
        pytest.param(make_validation(impeded=True), {K.VALIDATION}, id="impeded"),
        pytest.param(make_compliance(), {K.COMPLIANCE, K.IMPEDIMENT_REGULARISATION}, id="released"),
        pytest.param(
            make_compliance(released=False),
            {K.COMPLIANCE, K.IMPEDIMENT_REGULARISATION},
            id="not-released-still-complies",
        ),
        pytest.param(make_registration(), {K.BNMP_REGISTRATION}, id="registered"),
        pytest.param(make_rejection(), set(), id="rejected"),
        pytest.param(make_alert(), set(), id="alert"),
        pytest.param(make_release_order(), set(), id="order"),
    ],
)
def test_satisfied_by(payload: AnyPayload, kinds: set[K]) -> None:
    """Each payload meets the deadlines it answers, and only those."""
    assert satisfied_by(payload) == kinds


DEADLINE = Deadline(kind=K.COMPLIANCE, started_at=T0, due_at=T0 + timedelta(hours=10))


@pytest.mark.parametrize(
    ("elapsed", "already", "crossed"),
    [
        pytest.param(timedelta(hours=4, minutes=59), set(), (), id="before-50"),
        pytest.param(timedelta(hours=5), set(), (50,), id="at-50"),
        pytest.param(timedelta(hours=9, minutes=30), {50}, (90,), id="95-after-50-alerted"),
        pytest.param(timedelta(hours=9, minutes=30), set(), (50, 90), id="95-none-alerted"),
        pytest.param(timedelta(hours=10), {50, 90}, (100,), id="due"),
        pytest.param(timedelta(hours=30), set(), (50, 90, 100), id="long-overdue"),
        pytest.param(timedelta(hours=30), {50, 90, 100}, (), id="all-alerted"),
        pytest.param(-timedelta(hours=1), set(), (), id="before-start"),
    ],
)
def test_thresholds_crossed(
    elapsed: timedelta, already: AbstractSet[int], crossed: tuple[int, ...]
) -> None:
    """Alerts are due once per threshold, when that share of the span has elapsed."""
    assert thresholds_crossed(DEADLINE, already, T0 + elapsed) == crossed


def test_deadline_value() -> None:
    """A deadline must end after it starts and knows when each threshold falls."""
    assert DEADLINE.threshold_at(90) == T0 + timedelta(hours=9)
    assert Deadline.starting(K.RECEIPT, T0, POLICY).due_at == T0 + timedelta(hours=1)
    with pytest.raises(ValidationError, match="due_at must be after started_at"):
        Deadline(kind=K.RECEIPT, started_at=T0, due_at=T0)
    with pytest.raises(ContractError, match="falls after year 9999"):
        Deadline.starting(K.RECEIPT, datetime.max.replace(tzinfo=UTC), POLICY)


@pytest.mark.parametrize(
    ("state", "kinds"),
    [
        pytest.param(
            ReleaseOrderState.DISPATCHED,
            {K.RECEIPT, K.VALIDATION, K.COMPLIANCE, K.BNMP_REGISTRATION},
            id="dispatched",
        ),
        pytest.param(
            ReleaseOrderState.READY_IMPEDED,
            {K.COMPLIANCE, K.IMPEDIMENT_REGULARISATION, K.BNMP_REGISTRATION},
            id="ready-impeded",
        ),
        pytest.param(ReleaseOrderState.COMPLIED_RELEASED, {K.BNMP_REGISTRATION}, id="complied"),
        pytest.param(ReleaseOrderState.CERTIFIED, set(), id="certified"),
    ],
)
def test_deadlines_carried(state: ReleaseOrderState, kinds: set[K]) -> None:
    """Each state carries the deadlines still meaningful in it; the hub closes the others."""
    assert deadlines_carried(state) == kinds


RELEASE_PAYLOADS: list[AnyPayload] = [
    make_release_order(),
    make_release_order(contingency=True, outage_started_at=T0 - timedelta(hours=2)),
    make_receipt(),
    make_validation(),
    make_validation(impeded=True),
    make_compliance(),
    make_compliance(released=False),
    make_registration(),
    make_registration(document_type="release_compliance_certificate"),
    make_rejection(),
    make_referral(),
    make_alert(),
]


def test_deadlines_stay_consistent_with_the_lifecycle() -> None:
    """Every allowed transition leads to a state that carries the deadlines the payload starts."""
    checked = 0
    for state, payload in itertools.product([None, *ReleaseOrderState], RELEASE_PAYLOADS):
        try:
            nxt = transition_release(state, payload)
        except IllegalTransition:
            continue
        started = {d.kind for d in deadlines_started_by(payload, AT, POLICY)}
        assert started <= deadlines_carried(nxt), (state, payload.kind)
        checked += 1
    assert checked > 20
