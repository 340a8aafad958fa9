"""Lifecycle state machines: every transition of the release order and the warrant, both ways."""

from __future__ import annotations

import itertools
import re

import pytest

from contracts import (
    BnmpDocumentType,
    IllegalTransition,
    ReleaseOrderState,
    WarrantState,
    first_sight,
    in_force,
    release_warrant,
    transition_release,
    transition_warrant,
)
from contracts.envelope import AnyPayload
from tests.factories import (
    PERSON,
    PROCESS,
    WARRANT,
    make_alert,
    make_compliance,
    make_lifted,
    make_receipt,
    make_referral,
    make_registration,
    make_rejection,
    make_release_order,
    make_revocation,
    make_validation,
    make_warrant,
    make_warrant_complied,
    make_warrant_expired,
    make_warrant_recorded,
)

R = ReleaseOrderState
W = WarrantState
CERTIFICATE = BnmpDocumentType.RELEASE_COMPLIANCE_CERTIFICATE

RELEASE_EVENTS: dict[str, AnyPayload] = {
    "order": make_release_order(),
    "receipt": make_receipt(),
    "cleared": make_validation(),
    "impeded": make_validation(impeded=True),
    "released": make_compliance(),
    "not_released": make_compliance(released=False),
    "certificate_registered": make_registration(document_type=CERTIFICATE),
    "order_registered": make_registration(),
    "registration_rejected": make_rejection(),
    "referral": make_referral(),
    "lifted": make_lifted(),
    "alert": make_alert(),
}
TRACKED = ("order_registered", "registration_rejected", "alert")

RELEASE_ALLOWED: dict[tuple[R | None, str], R] = {
    (None, "order"): R.DISPATCHED,
    (R.DISPATCHED, "receipt"): R.RECEIVED,
    (R.DISPATCHED, "cleared"): R.VALIDATED,
    (R.DISPATCHED, "impeded"): R.IMPEDED,
    (R.RECEIVED, "cleared"): R.READY,
    (R.RECEIVED, "impeded"): R.READY_IMPEDED,
    (R.VALIDATED, "receipt"): R.READY,
    (R.IMPEDED, "receipt"): R.READY_IMPEDED,
    (R.IMPEDED, "cleared"): R.VALIDATED,
    (R.IMPEDED, "impeded"): R.IMPEDED,
    (R.IMPEDED, "referral"): R.IMPEDED,
    (R.READY_IMPEDED, "cleared"): R.READY,
    (R.READY_IMPEDED, "impeded"): R.READY_IMPEDED,
    (R.VALIDATED, "impeded"): R.IMPEDED,
    (R.READY, "impeded"): R.READY_IMPEDED,
    (R.READY_IMPEDED, "referral"): R.READY_IMPEDED,
    (R.IMPEDED, "lifted"): R.IMPEDED,
    (R.READY_IMPEDED, "lifted"): R.READY_IMPEDED,
    (R.READY, "released"): R.COMPLIED_RELEASED,
    (R.READY, "not_released"): R.COMPLIED_NOT_RELEASED,
    (R.READY_IMPEDED, "not_released"): R.COMPLIED_NOT_RELEASED,
    (R.COMPLIED_RELEASED, "certificate_registered"): R.CERTIFIED,
    (R.COMPLIED_NOT_RELEASED, "certificate_registered"): R.CERTIFIED,
    **{(state, event): state for state in R for event in TRACKED},
}
RELEASE_PAIRS = list(itertools.product([None, *R], RELEASE_EVENTS))


def _label(state: object) -> str:
    return "none" if state is None else str(state)


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        pytest.param(s, e, nxt, id=f"{_label(s)}-{e}->{nxt}")
        for (s, e), nxt in RELEASE_ALLOWED.items()
    ],
)
def test_allowed_release_transitions(state: R | None, event: str, expected: R) -> None:
    """Each allowed release-order transition leads to its documented next state."""
    assert transition_release(state, RELEASE_EVENTS[event]) is expected


@pytest.mark.parametrize(
    ("state", "event"),
    [
        pytest.param(s, e, id=f"{_label(s)}-{e}")
        for s, e in RELEASE_PAIRS
        if (s, e) not in RELEASE_ALLOWED
    ],
)
def test_forbidden_release_transitions(state: R | None, event: str) -> None:
    """Every other (state, event) pair raises IllegalTransition naming the event and the state."""
    payload = RELEASE_EVENTS[event]
    where = "no release order known" if state is None else str(state)
    with pytest.raises(IllegalTransition, match=f"{payload.kind} not allowed in state {where}: "):
        transition_release(state, payload)


@pytest.mark.parametrize(
    ("state", "event", "reason", "fragment"),
    [
        pytest.param(
            R.READY_IMPEDED,
            "released",
            "released_with_impediments",
            "may not be released (S000 art.4 §1)",
            id="released-despite-impediments",
        ),
        pytest.param(
            R.COMPLIED_RELEASED,
            "receipt",
            "duplicate",
            "already acknowledged receipt",
            id="late-copy-of-the-receipt-after-compliance",
        ),
        pytest.param(
            R.RECEIVED, "receipt", "duplicate", "already acknowledged receipt", id="second-receipt"
        ),
        pytest.param(
            R.READY, "cleared", "duplicate", "SETARIM already cleared", id="second-clearance"
        ),
        pytest.param(
            R.COMPLIED_NOT_RELEASED,
            "cleared",
            "illegal_transition",
            "validation after compliance is too late",
            id="validation-after-compliance",
        ),
        pytest.param(
            R.DISPATCHED,
            "released",
            "not_yet",
            "acknowledge receipt and SETARIM",
            id="released-before-receipt",
        ),
        pytest.param(
            R.IMPEDED,
            "not_released",
            "not_yet",
            "acknowledge receipt and SETARIM",
            id="kept-before-receipt",
        ),
        pytest.param(
            R.CERTIFIED, "released", "duplicate", "already complied", id="certificate-replayed"
        ),
        pytest.param(
            R.CERTIFIED,
            "certificate_registered",
            "duplicate",
            "BNMP already recorded it",
            id="registration-replayed",
        ),
        pytest.param(
            R.READY,
            "certificate_registered",
            "not_yet",
            "not complied yet",
            id="certificate-registered-early",
        ),
        pytest.param(
            None, "receipt", "unknown_order", "no such release order", id="receipt-unknown-order"
        ),
        pytest.param(R.DISPATCHED, "order", "duplicate", "already issued", id="order-twice"),
        pytest.param(
            R.READY,
            "referral",
            "illegal_transition",
            "no impediments are pending",
            id="referral-without-impediments",
        ),
    ],
)
def test_forbidden_release_transitions_say_why(
    state: R | None, event: str, reason: str, fragment: str
) -> None:
    """The notable forbidden transitions carry a specific reason code and explanation."""
    with pytest.raises(IllegalTransition, match=re.escape(fragment)) as caught:
        transition_release(state, RELEASE_EVENTS[event])
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(make_warrant(), id="warrant"),
        pytest.param(make_revocation(), id="counter-warrant"),
        pytest.param(make_warrant_complied(), id="warrant-complied"),
        pytest.param(make_warrant_expired(), id="warrant-expired"),
        pytest.param(
            make_registration(document_type=BnmpDocumentType.WARRANT), id="warrant-registered"
        ),
    ],
)
def test_warrant_payloads_do_not_drive_release_orders(payload: AnyPayload) -> None:
    """A warrant event given to the release-order machine is refused as the wrong subject."""
    with pytest.raises(IllegalTransition, match="does not concern a release order") as caught:
        transition_release(R.READY, payload)
    assert caught.value.reason == "wrong_subject"


WARRANT_EVENTS: dict[str, AnyPayload] = {
    "issued": make_warrant(),
    "complied": make_warrant_complied(),
    "counter_warrant": make_revocation(),
    "release_order": make_release_order(),
    "expired": make_warrant_expired(),
    # What BNMP reports, naming the person: the first sight of a warrant the hub never carried.
    "complied_named": make_warrant_complied(person=PERSON),
    "expired_named": make_warrant_expired(person=PERSON),
    "bnmp_pending": make_warrant_recorded(warrant_number=WARRANT, process_number=PROCESS),
    "bnmp_revoked": make_warrant_recorded(
        warrant_number=WARRANT, process_number=PROCESS, status="revoked"
    ),
    "registered": make_registration(
        document_number=WARRANT, document_type=BnmpDocumentType.WARRANT
    ),
    "alert": make_alert(subject_id=WARRANT),
}
WARRANT_ALLOWED: dict[tuple[W | None, str], W] = {
    (None, "issued"): W.PENDING,
    (W.PENDING, "complied"): W.COMPLIED,
    (W.PENDING, "counter_warrant"): W.REVOKED,
    (W.PENDING, "expired"): W.EXPIRED,
    (W.COMPLIED, "release_order"): W.REVOKED,
    (W.PENDING, "complied_named"): W.COMPLIED,
    (W.PENDING, "expired_named"): W.EXPIRED,
    (W.PENDING, "bnmp_revoked"): W.REVOKED,
    (W.COMPLIED, "bnmp_revoked"): W.REVOKED,
    (W.COMPLIED, "bnmp_pending"): W.PENDING,  # its compliance certificate annulled in BNMP
    (None, "complied_named"): W.COMPLIED,
    (None, "expired_named"): W.EXPIRED,
    (None, "bnmp_pending"): W.PENDING,
    (None, "bnmp_revoked"): W.REVOKED,
    **{(state, event): state for state in W for event in ("registered", "alert")},
}
WARRANT_PAIRS = list(itertools.product([None, *W], WARRANT_EVENTS))


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        pytest.param(s, e, nxt, id=f"{_label(s)}-{e}->{nxt}")
        for (s, e), nxt in WARRANT_ALLOWED.items()
    ],
)
def test_allowed_warrant_transitions(state: W | None, event: str, expected: W) -> None:
    """Each allowed warrant transition leads to its documented next state."""
    assert transition_warrant(state, WARRANT_EVENTS[event]) is expected


@pytest.mark.parametrize(
    ("state", "event"),
    [
        pytest.param(s, e, id=f"{_label(s)}-{e}")
        for s, e in WARRANT_PAIRS
        if (s, e) not in WARRANT_ALLOWED
    ],
)
def test_forbidden_warrant_transitions(state: W | None, event: str) -> None:
    """Every other (state, event) pair raises IllegalTransition naming the event and the state."""
    payload = WARRANT_EVENTS[event]
    where = "no warrant known" if state is None else str(state)
    with pytest.raises(IllegalTransition, match=f"{payload.kind} not allowed in state {where}: "):
        transition_warrant(state, payload)


@pytest.mark.parametrize(
    ("state", "event", "reason", "fragment"),
    [
        pytest.param(
            W.COMPLIED,
            "counter_warrant",
            "release_order_needed",
            "a release order is needed",
            id="counter-warrant-on-complied",
        ),
        pytest.param(
            W.PENDING,
            "release_order",
            "counter_warrant_needed",
            "a counter-warrant is needed",
            id="release-of-pending",
        ),
        pytest.param(W.COMPLIED, "complied", "duplicate", "already complied", id="complied-twice"),
        pytest.param(W.REVOKED, "counter_warrant", "duplicate", "already revoked", id="revoked-2x"),
        pytest.param(W.EXPIRED, "expired", "duplicate", "expired already", id="expired-twice"),
        pytest.param(W.REVOKED, "expired", "duplicate", "revoked already", id="revoked-expires"),
        pytest.param(
            W.EXPIRED, "bnmp_revoked", "duplicate", "out of force", id="expired-revoked-in-bnmp"
        ),
        pytest.param(W.PENDING, "bnmp_pending", "duplicate", "pending already", id="pending-2x"),
        pytest.param(
            W.COMPLIED,
            "expired",
            "register_drift",
            "BNMP expired a warrant the hub holds as complied",
            id="complied-expires",
        ),
        pytest.param(
            W.REVOKED,
            "complied",
            "register_drift",
            "BNMP holds in force a warrant the hub holds as revoked",
            id="after-revoked",
        ),
        pytest.param(
            W.EXPIRED,
            "bnmp_pending",
            "register_drift",
            "BNMP holds in force a warrant the hub holds as expired",
            id="pending-again-after-expiry",
        ),
        pytest.param(
            W.REVOKED,
            "release_order",
            "illegal_transition",
            "revoked (terminal)",
            id="release-after-revocation",
        ),
        pytest.param(
            W.EXPIRED,
            "release_order",
            "illegal_transition",
            "expired (terminal)",
            id="release-after-expiry",
        ),
        pytest.param(None, "complied", "unknown_warrant", "no such warrant", id="unknown"),
        pytest.param(W.PENDING, "issued", "duplicate", "already issued", id="issued-twice"),
    ],
)
def test_forbidden_warrant_transitions_say_why(
    state: W | None, event: str, reason: str, fragment: str
) -> None:
    """The notable forbidden warrant transitions carry a specific reason and explanation."""
    with pytest.raises(IllegalTransition, match=re.escape(fragment)) as caught:
        transition_warrant(state, WARRANT_EVENTS[event])
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(make_receipt(), id="receipt"),
        pytest.param(make_validation(), id="validation"),
        pytest.param(make_compliance(), id="compliance"),
        pytest.param(make_referral(), id="referral"),
        pytest.param(make_registration(), id="order-registered"),
    ],
)
def test_release_payloads_do_not_drive_warrants(payload: AnyPayload) -> None:
    """A release-order event given to the warrant machine is refused as the wrong subject."""
    with pytest.raises(IllegalTransition, match="does not concern a warrant") as caught:
        transition_warrant(W.PENDING, payload)
    assert caught.value.reason == "wrong_subject"


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        pytest.param(W.COMPLIED, W.REVOKED, id="complied"),
        pytest.param(W.PENDING, "a counter-warrant is needed", id="pending"),
        pytest.param(W.REVOKED, "terminal", id="revoked"),
        pytest.param(W.EXPIRED, "terminal", id="expired"),
        pytest.param(None, "no such warrant", id="unknown"),
    ],
)
def test_release_warrant(state: W | None, outcome: W | str) -> None:
    """`release_warrant` revokes only a complied warrant, like a covering release order."""
    if isinstance(outcome, W):
        assert release_warrant(state) is outcome
    else:
        with pytest.raises(IllegalTransition, match=outcome):
            release_warrant(state)


@pytest.mark.parametrize(
    ("event", "state"),
    [
        pytest.param("complied_named", W.COMPLIED, id="complied-naming-the-person"),
        pytest.param("expired_named", W.EXPIRED, id="expired-naming-the-person"),
        pytest.param("bnmp_pending", W.PENDING, id="pending-in-bnmp"),
        pytest.param("bnmp_revoked", W.REVOKED, id="revoked-in-bnmp"),
        pytest.param("complied", None, id="complied-naming-nobody"),
        pytest.param("expired", None, id="expired-naming-nobody"),
        pytest.param("issued", None, id="issued-by-a-court"),
        pytest.param("counter_warrant", None, id="counter-warrant"),
    ],
)
def test_first_sight(event: str, state: W | None) -> None:
    """A BNMP report that names the person gives a warrant the hub never carried BNMP's state;
    one that names nobody, or a court's document, gives none (S004 item 10)."""
    assert first_sight(WARRANT_EVENTS[event]) is state


@pytest.mark.parametrize(
    ("state", "expected"),
    [(W.PENDING, True), (W.COMPLIED, True), (W.REVOKED, False), (W.EXPIRED, False)],
)
def test_in_force(state: W, expected: bool) -> None:
    """Pending and complied warrants keep a person detained; revoked and expired ones do not."""
    assert in_force(state) is expected
